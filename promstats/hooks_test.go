package promstats_test

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamtop/streamtop/hook"
	"github.com/streamtop/streamtop/internal/scrape"
	"github.com/streamtop/streamtop/promstats"
)

// Call events land in the per-API series: every attempt in the
// histogram, failures, retries and throttles in their counters; two Hooks
// of different names share a registry.
func TestHooksCountCallsPerAPI(t *testing.T) {
	h, other := promstats.NewHooks("app"), promstats.NewHooks("other")
	reg := prometheus.NewRegistry()
	reg.MustRegister(h, other)
	throttle := errors.New("throttled")
	for _, c := range []hook.Call{
		{Adapter: "dynamostore", API: "UpdateItem", Duration: 3 * time.Millisecond},
		{Adapter: "dynamostore", API: "UpdateItem", Duration: time.Millisecond, Err: throttle, Retryable: true, Throttled: true},
		{Adapter: "dynamostore", API: "UpdateItem", Duration: time.Millisecond, Err: errors.New("timeout"), Retryable: true},
		{Adapter: "dynamostore", API: "UpdateItem", Duration: time.Millisecond, Err: errors.New("denied")},
		{Adapter: "kinesisstream", API: "GetRecords", Duration: 20 * time.Millisecond},
	} {
		h.OnCall(c)
	}
	other.OnBatch(hook.Batch{Shard: "s", Records: 1, Duration: time.Millisecond})
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	m := scrape.Metrics(t, srv.URL)
	const ddb = `{adapter="dynamostore",api="UpdateItem",name="app"}`
	for metric, want := range map[string]float64{
		`streamtop_aws_call_seconds_count` + ddb:                                                4,
		`streamtop_aws_call_failures_total` + ddb:                                               3,
		`streamtop_aws_retries_total` + ddb:                                                     2,
		`streamtop_aws_throttles_total` + ddb:                                                   1,
		`streamtop_aws_call_seconds_count{adapter="kinesisstream",api="GetRecords",name="app"}`: 1,
		`streamtop_consumer_batch_seconds_count{name="other"}`:                                  1,
		`streamtop_consumer_batch_seconds_count{name="app"}`:                                    0,
	} {
		if got, ok := m[metric]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", metric, got, ok, want)
		}
	}
}
