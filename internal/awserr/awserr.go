// Package awserr sorts the errors of AWS services into those that no retry
// heals soon — the resource does not exist (or not in this region or
// account), the caller is refused — and the rest. The adapters translate
// the first kind into their packages' sentinels (source.ErrStreamNotFound,
// checkpoint.ErrTableNotFound, the ErrAccessDenied of each), so a Consumer
// can give up on them while it keeps retrying throttling, timeouts and
// server errors.
package awserr

import (
	"context"
	"errors"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
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

// retryableCodes are the error codes with which AWS says "try again later":
// throttling (Kinesis: of the stream, the account's API limits or KMS;
// DynamoDB: of the table, the partition or the account's request rate) and
// the services' own transient failures.
var retryableCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"KMSThrottlingException":                 true,
	"LimitExceededException":                 true,
	"RequestLimitExceeded":                   true,
	"ThrottlingException":                    true,
	"Throttling":                             true,
	"InternalFailureException":               true,
	"InternalFailure":                        true,
	"InternalServerError":                    true,
	"ServiceUnavailable":                     true,
	"ServiceUnavailableException":            true,
}

// Transient reports whether err, returned by a call made with ctx, is worth
// the same call again after a pause: a throttle, a server fault, or a
// connection or timeout error the SDK itself would retry. A timeout while
// ctx is still live is the call's own (an HTTP client or per-attempt
// timeout, which net/http reports as matching context.DeadlineExceeded);
// once ctx has ended, nothing is. It is the one retry predicate of the
// adapters, which turn the SDK's own retries off (see OneAttempt), so that
// one policy (internal/backoff) bounds the calls of an operation.
func Transient(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if retryableCodes[apiErr.ErrorCode()] {
			return true
		}
		if apiErr.ErrorFault() == smithy.FaultServer {
			return true
		}
	}
	return retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
}

// throttleCodes are the retryable codes that ask the caller to slow down,
// as opposed to the service failing.
var throttleCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"KMSThrottlingException":                 true,
	"LimitExceededException":                 true,
	"RequestLimitExceeded":                   true,
	"ThrottlingException":                    true,
	"Throttling":                             true,
}

// IsThrottle reports whether err is a Kinesis or DynamoDB service asking
// the caller to slow down.
func IsThrottle(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && throttleCodes[apiErr.ErrorCode()]
}

// RetryableCode reports whether an error code (as a PutRecords entry
// carries it, without an error value) is one Transient retries.
func RetryableCode(code string) bool { return retryableCodes[code] }
