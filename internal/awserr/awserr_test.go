package awserr

import (
	"fmt"
	"net"
	"testing"

	"github.com/aws/smithy-go"
)

func TestClassify(t *testing.T) {
	api := func(code string) error {
		return fmt.Errorf("operation X: %w", &smithy.GenericAPIError{Code: code, Message: "m"})
	}
	for _, c := range []struct {
		err                      error
		denied, notFound, noHost bool
	}{
		{api("ResourceNotFoundException"), false, true, false},
		{api("AccessDeniedException"), true, false, false},
		{api("UnrecognizedClientException"), true, false, false},
		{api("InvalidSignatureException"), true, false, false},
		{api("ExpiredTokenException"), true, false, false},
		{api("ProvisionedThroughputExceededException"), false, false, false},
		{api("InternalFailure"), false, false, false},
		{fmt.Errorf("send: %w", &net.DNSError{Err: "no such host", Name: "kinesis.us-esat-1.amazonaws.com", IsNotFound: true}), false, false, true},
		{fmt.Errorf("send: %w", &net.DNSError{Err: "timeout", Name: "h", IsTimeout: true}), false, false, false},
		{nil, false, false, false},
	} {
		if got := IsDenied(c.err); got != c.denied {
			t.Errorf("IsDenied(%v) = %v", c.err, got)
		}
		if got := IsNotFound(c.err); got != c.notFound {
			t.Errorf("IsNotFound(%v) = %v", c.err, got)
		}
		if got := IsNoHost(c.err); got != c.noHost {
			t.Errorf("IsNoHost(%v) = %v", c.err, got)
		}
	}
}
