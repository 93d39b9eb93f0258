// Package awserr sorts the errors of AWS services into those that no retry
// heals soon — the resource does not exist (or not in this region or
// account), the caller is refused — and the rest. The adapters translate
// the first kind into their packages' sentinels (source.ErrStreamNotFound,
// checkpoint.ErrTableNotFound, the ErrAccessDenied of each), so a Consumer
// can give up on them while it keeps retrying throttling, timeouts and
// server errors.
package awserr

import (
	"errors"
	"net"

	"github.com/aws/smithy-go"
)

// deniedCodes are the error codes with which AWS refuses a caller: bad,
// missing or expired credentials, a signature that does not match, or a
// policy that does not allow the call.
var deniedCodes = map[string]bool{
	"AccessDenied":                        true,
	"AccessDeniedException":               true,
	"UnrecognizedClientException":         true,
	"InvalidClientTokenId":                true,
	"InvalidSignatureException":           true,
	"SignatureDoesNotMatch":               true,
	"IncompleteSignature":                 true,
	"IncompleteSignatureException":        true,
	"MissingAuthenticationToken":          true,
	"MissingAuthenticationTokenException": true,
	"ExpiredToken":                        true,
	"ExpiredTokenException":               true,
	"KMSAccessDeniedException":            true,
}

// IsDenied reports whether err is AWS refusing the caller: its credentials
// or its permissions.
func IsDenied(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && deniedCodes[apiErr.ErrorCode()]
}

// IsNotFound reports whether err says the resource named in the call does
// not exist: ResourceNotFoundException, which is also what a wrong region or
// account gets.
func IsNotFound(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ResourceNotFoundException"
}

// IsNoHost reports whether err is a DNS lookup that found no such host: the
// endpoint of a region that does not exist (a typo in the region name), or a
// wrong custom endpoint.
func IsNoHost(err error) bool {
	var dns *net.DNSError
	return errors.As(err, &dns) && dns.IsNotFound
}
