package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamtop/streamtop/internal/awsconf"
	"github.com/streamtop/streamtop/source"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// startCheckTimeout bounds the calls that prove at start that the stream
// answers, so a wrong endpoint or region fails with a message instead of
// hanging in the SDK's retries.
const startCheckTimeout = 10 * time.Second

// parseFrom reads -from: latest, trim-horizon (the API's spellings
// LATEST and TRIM_HORIZON too) or an RFC 3339 time, for AT_TIMESTAMP.
func parseFrom(v string) (source.Position, error) {
	switch strings.ReplaceAll(strings.ToLower(v), "_", "-") {
	case "latest":
		return source.Position{Type: source.Latest}, nil
	case "trim-horizon":
		return source.Position{Type: source.TrimHorizon}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return source.Position{}, fmt.Errorf("-from %q: want latest, trim-horizon or an RFC 3339 time such as 2026-01-02T15:04:05Z", v)
	}
	return source.Position{Type: source.AtTimestamp, Timestamp: t}, nil
}

// checkKinesis validates the flags of the -kinesis source.
func (c *config) checkKinesis(set map[string]bool) error {
	if c.kinesis == "" {
		for _, f := range []string{"from", "region", "kinesis-endpoint", "group"} {
			if set[f] {
				return fmt.Errorf("-%s: only for -kinesis", f)
			}
		}
		if set["dynamodb-endpoint"] {
			return errors.New("-dynamodb-endpoint: only for -kinesis with -group")
		}
		if set["kinesis"] {
			return errors.New("-kinesis: needs a stream name")
		}
		return nil
	}
	if c.demo {
		return errors.New("-kinesis and -demo: choose one")
	}
	if !validStreamName(c.kinesis) {
		return fmt.Errorf("-kinesis %q: a stream name is 1 to 128 letters, digits, '_', '-' or '.'", c.kinesis)
	}
	if err := checkEndpoint("kinesis-endpoint", c.kinesisEndpoint, "http://127.0.0.1:4567"); err != nil {
		return err
	}
	if err := c.checkGroup(set); err != nil {
		return err
	}
	if c.once && c.from.Type == source.Latest {
		return errors.New("-once with -kinesis reads up to the stream's newest record, then prints: " +
			"give -from trim-horizon or a time, as from latest there is nothing to read")
	}
	return nil
}

// checkEndpoint checks an endpoint flag's URL; empty is fine.
func checkEndpoint(flagName, e, example string) error {
	if e == "" {
		return nil
	}
	u, err := url.Parse(e)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Not echoed: a mistyped URL may hold a secret.
		return fmt.Errorf("-%s: must be a URL such as %s", flagName, example)
	}
	if u.User != nil {
		return fmt.Errorf("-%s %s: must not hold a user or password: credentials come from the SDK's default chain", flagName, u.Redacted())
	}
	return nil
}

func validStreamName(s string) bool { return validName(s, 128) }

// validName says whether s is 1 to maxLen letters, digits, '_', '-' or '.',
// as Kinesis stream and DynamoDB table names are.
func validName(s string, maxLen int) bool {
	if len(s) < 1 || len(s) > maxLen {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
		default:
			return false
		}
	}
	return true
}

// kinesisClient is what the -kinesis source calls: the reads of a
// kinesisstream.Stream, and DescribeStreamSummary to check the stream at
// start. A *kinesis.Client has it.
type kinesisClient interface {
	kinesisstream.ReadClient
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
}

// loadAWS loads the SDK's default configuration: credentials and, without
// -region, the region from its default chain. What the SDK logs is a slog
// record written to log (awsconf.Load), not a raw line of the SDK's.
func loadAWS(ctx context.Context, c *config, log io.Writer) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if c.region != "" {
		opts = append(opts, awsconfig.WithRegion(c.region))
	}
	cfg, err := awsconf.Load(ctx, slog.New(slog.NewTextHandler(log, nil)), opts...)
	if err != nil {
		return cfg, fmt.Errorf("-kinesis: loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return cfg, &usageError{msg: "-region: no region given, and none in AWS_REGION or the shared config"}
	}
	// Missing credentials would otherwise look like an unreachable stream.
	cctx, cancel := context.WithTimeout(ctx, startCheckTimeout)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(cctx); err != nil {
		return cfg, fmt.Errorf("-kinesis: no AWS credentials in the SDK's default chain "+
			"(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or an instance role; "+
			"any values do for a local emulator): %w", err)
	}
	return cfg, nil
}

// newKinesisClient makes the Kinesis client, pointed at -kinesis-endpoint if
// given.
func newKinesisClient(cfg aws.Config, c *config) *kinesis.Client {
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		if c.kinesisEndpoint != "" {
			o.BaseEndpoint = aws.String(c.kinesisEndpoint)
		}
	})
}

// kinesisWhere names the endpoint and the flag that chose it, for messages.
func kinesisWhere(c *config, region string) string {
	if c.kinesisEndpoint != "" {
		return "at -kinesis-endpoint " + c.kinesisEndpoint
	}
	return fmt.Sprintf("in region %s (-region)", region)
}

// openKinesis checks that the stream exists and answers, within
// startCheckTimeout, and returns the source that reads it. where says where
// the stream was looked for, for the error.
func openKinesis(ctx context.Context, client kinesisClient, c *config, where string, opts ...kinesisstream.StreamOption) (*shardSource, error) {
	if err := checkStream(ctx, client, c, where); err != nil {
		return nil, err
	}
	watch := &lagWatch{kinesisClient: client}
	st, err := kinesisstream.New(watch, c.kinesis, opts...)
	if err != nil {
		return nil, err
	}
	return &shardSource{
		stream:   st,
		label:    "kinesis " + c.kinesis,
		from:     c.from,
		lagKnown: watch.known,
		// A stream has no end: -once prints when every shard is caught up.
		untilCaughtUp: c.once,
	}, nil
}

// checkStream checks, within startCheckTimeout, that the stream exists and
// answers.
func checkStream(ctx context.Context, client kinesisClient, c *config, where string) error {
	cctx, cancel := context.WithTimeout(ctx, startCheckTimeout)
	defer cancel()
	out, err := client.DescribeStreamSummary(cctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(c.kinesis)})
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("-kinesis %s: no such stream %s", c.kinesis, where)
	case err != nil && cctx.Err() != nil && ctx.Err() == nil:
		return fmt.Errorf("-kinesis %s: no answer %s within %v: %w", c.kinesis, where, startCheckTimeout, err)
	case err != nil:
		return fmt.Errorf("-kinesis %s: cannot describe the stream %s: %w", c.kinesis, where, err)
	}
	if d := out.StreamDescriptionSummary; d != nil && d.StreamStatus != types.StreamStatusActive && d.StreamStatus != types.StreamStatusUpdating {
		return fmt.Errorf("-kinesis %s %s: the stream is %s, not ACTIVE", c.kinesis, where, d.StreamStatus)
	}
	return nil
}

// lagWatch passes calls through and notes whether GetRecords reports
// MillisBehindLatest. Kinesis always does and kinesalite never does; a
// Stream reads a missing one as 0, which would show as caught up.
type lagWatch struct {
	kinesisClient
	missing atomic.Bool
}

func (w *lagWatch) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	out, err := w.kinesisClient.GetRecords(ctx, in, optFns...)
	if err == nil && out.MillisBehindLatest == nil {
		w.missing.Store(true)
	}
	return out, err
}

// known reports whether every GetRecords so far said how far behind it was.
func (w *lagWatch) known() bool { return !w.missing.Load() }
