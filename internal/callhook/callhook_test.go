package callhook_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/hook"
	"github.com/streamtop/streamtop/internal/callhook"
	"github.com/streamtop/streamtop/internal/hooktest"
)

// A throttle is reported Retryable and Throttled, a success with no error,
// and an Observer is made only for hooks that want calls.
func TestObserver(t *testing.T) {
	if o := callhook.New("a", []hook.Hook{struct{}{}}); o != nil {
		t.Fatalf("New with no hook.Calls = %v, want nil", o)
	}
	rec := &hooktest.Recorder{}
	o := callhook.New("dynamostore", []hook.Hook{rec})
	ctx := context.Background()
	o.Done(ctx, "GetItem", o.Start(), &types.ProvisionedThroughputExceededException{})
	o.Done(ctx, "GetItem", o.Start(), nil)
	calls := rec.Calls()
	if len(calls) != 2 {
		t.Fatalf("calls %+v, want 2", calls)
	}
	if c := calls[0]; !c.Throttled || !c.Retryable || c.Err == nil || c.Adapter != "dynamostore" || c.API != "GetItem" {
		t.Errorf("throttled call reported as %+v", c)
	}
	if c := calls[1]; c.Throttled || c.Retryable || c.Err != nil || c.Duration < 0 {
		t.Errorf("successful call reported as %+v", c)
	}
}

type nopCalls struct{}

func (nopCalls) OnCall(hook.Call) {}

// The cost the adapters' client wrappers add to a call: with no hook, two
// nil checks.
func BenchmarkObserver(b *testing.B) {
	for _, bc := range []struct {
		name string
		o    *callhook.Observer
	}{{"none", nil}, {"one", callhook.New("a", []hook.Hook{nopCalls{}})}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				bc.o.Done(ctx, "GetRecords", bc.o.Start(), nil)
			}
		})
	}
}
