package awstest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// NoCredentials sets the environment for the rest of t so that the SDK's
// default credential chain finds nothing but the instance metadata
// service, served by a local stand-in that refuses the IMDSv2 token (so
// the SDK warns that it falls back to IMDSv1, as on a machine that is not
// an EC2 instance) and knows no role. The region is Region.
func NoCredentials(t *testing.T) {
	t.Helper()
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(imds.Close)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_EC2_METADATA_DISABLED", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_REGION", Region)
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
}
