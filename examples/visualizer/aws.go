package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/streamtop/streamtop/checkpoint/dynamostore"
	"github.com/streamtop/streamtop/internal/awsconf"
	"github.com/streamtop/streamtop/promstats"
	"github.com/streamtop/streamtop/sink/dynamosink"
	"github.com/streamtop/streamtop/source/kinesisstream"
)

// startCheckTimeout bounds the calls that prove, at start, that each
// service the roles need answers; an unreachable endpoint fails fast with a
// message naming its flag instead of hanging in retries.
const startCheckTimeout = 10 * time.Second

// awsClients are the SDK clients of the AWS mode.
type awsClients struct {
	kinesis  *kinesis.Client
	dynamodb *dynamodb.Client
}

// newAWSClients loads the SDK's default configuration (credentials from the
// default chain) and points the clients at the endpoints given, if any. What
// the SDK logs (an instance-metadata lookup that failed while looking for
// credentials, say) is a record of logger, as the program's own lines are,
// never a line of its own on stderr; see awsconf.Load.
func newAWSClients(ctx context.Context, c config, logger *slog.Logger) (*awsClients, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if c.region != "" {
		opts = append(opts, awsconfig.WithRegion(c.region))
	}
	cfg, err := awsconf.Load(ctx, logger, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("%w: -region: no region given, and none in AWS_REGION or the shared config", errUsage)
	}
	// Without this check, missing credentials would surface as an
	// unreachable endpoint.
	cctx, cancel := context.WithTimeout(ctx, startCheckTimeout)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(cctx); err != nil {
		return nil, fmt.Errorf("AWS credentials: none found in the SDK's default chain "+
			"(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or an instance role; "+
			"any values do for local emulators): %w", err)
	}
	return &awsClients{
		kinesis: kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
			if c.kinesisEndpoint != "" {
				o.BaseEndpoint = aws.String(c.kinesisEndpoint)
			}
		}),
		dynamodb: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
			if c.dynamodbEndpoint != "" {
				o.BaseEndpoint = aws.String(c.dynamodbEndpoint)
			}
		}),
	}, nil
}

// where names the flag that decides where a service is, for error messages.
func where(flagName, endpoint, region string) string {
	if endpoint != "" {
		return fmt.Sprintf("-%s %s", flagName, endpoint)
	}
	return fmt.Sprintf("%s in region %s (-region)", flagName, region)
}

// checkReachable makes one cheap call to each service the roles use.
func (a *awsClients) checkReachable(ctx context.Context, c config) error {
	ctx, cancel := context.WithTimeout(ctx, startCheckTimeout)
	defer cancel()
	region := a.kinesis.Options().Region
	if c.roles.producer || c.roles.consumer {
		if _, err := a.kinesis.ListStreams(ctx, &kinesis.ListStreamsInput{Limit: aws.Int32(1)}); err != nil {
			return fmt.Errorf("%s: not reachable: %w", where("kinesis-endpoint", c.kinesisEndpoint, region), err)
		}
	}
	if c.roles.consumer || c.roles.web {
		if _, err := a.dynamodb.ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)}); err != nil {
			return fmt.Errorf("%s: not reachable: %w", where("dynamodb-endpoint", c.dynamodbEndpoint, region), err)
		}
	}
	return nil
}

// openAWS opens the backend of the AWS mode: the Kinesis stream, the
// DynamoDB lease table and the DynamoDB counts table, creating each one the
// roles need if it is absent.
func openAWS(ctx context.Context, c config, log io.Writer, hooks *promstats.Hooks) (*backend, error) {
	// The SDK and the adapters log where the program's lines go; the
	// adapters log the calls they retry (throttling, timeouts),
	// rate-limited.
	logger := slog.New(slog.NewTextHandler(log, nil))
	a, err := newAWSClients(ctx, c, logger)
	if err != nil {
		return nil, err
	}
	if err := a.checkReachable(ctx, c); err != nil {
		return nil, err
	}
	b := &backend{close: func() error { return nil }}
	if c.roles.producer || c.roles.consumer {
		if err := kinesisstream.CreateStream(ctx, a.kinesis, c.stream, c.shards); err != nil {
			return nil, fmt.Errorf("-stream %s: %w", c.stream, err)
		}
	}
	if c.roles.consumer {
		if err := dynamostore.CreateTable(ctx, a.dynamodb, c.leaseTable); err != nil {
			return nil, fmt.Errorf("-lease-table %s: %w", c.leaseTable, err)
		}
		st, err := kinesisstream.New(a.kinesis, c.stream, kinesisstream.WithLogger(logger), kinesisstream.WithHooks(hooks))
		if err != nil {
			return nil, fmt.Errorf("-stream %s: %w", c.stream, err)
		}
		b.stream = st
		b.metrics = append(b.metrics, promstats.Stream(st).Named(c.stream))
		if b.leases, err = dynamostore.New(a.dynamodb, c.leaseTable, dynamostore.WithLogger(logger), dynamostore.WithHooks(hooks)); err != nil {
			return nil, fmt.Errorf("-lease-table %s: %w", c.leaseTable, err)
		}
	}
	if c.roles.consumer || c.roles.web {
		err := dynamosink.CreateTable(ctx, a.dynamodb, c.countsTable)
		if errors.Is(err, dynamosink.ErrNoTTL) {
			// Local emulators lack TTL; the table works, old rows just stay.
			fmt.Fprintf(log, "visualizer: -counts-table %s: %v (old counts will not expire)\n", c.countsTable, err)
		} else if err != nil {
			return nil, fmt.Errorf("-counts-table %s: %w", c.countsTable, err)
		}
		counts, err := dynamosink.New(a.dynamodb, c.countsTable, dynamosink.WithLogger(logger), dynamosink.WithHooks(hooks))
		if err != nil {
			return nil, fmt.Errorf("-counts-table %s: %w", c.countsTable, err)
		}
		b.out, b.in, b.groups = counts, counts, counts.Groups
	}
	if c.roles.producer {
		// A lost record is logged once, the first time, and ends the
		// producer at its next put: a demo that quietly drops visits
		// would chart numbers nobody wrote. Close reports the total.
		var first atomic.Pointer[error]
		p, err := kinesisstream.NewProducer(a.kinesis, c.stream, kinesisstream.WithFailureHandler(func(key string, _ []byte, err error) {
			if first.CompareAndSwap(nil, &err) {
				fmt.Fprintf(log, "visualizer: producer: lost a record of %s: %v\n", key, err)
			}
		}), kinesisstream.WithHooks(hooks))
		if err != nil {
			return nil, fmt.Errorf("-stream %s: %w", c.stream, err)
		}
		b.metrics = append(b.metrics, promstats.Producer(p).Named(c.stream))
		b.put = func(ctx context.Context, batch []message) error {
			if lost := first.Load(); lost != nil {
				return fmt.Errorf("-stream %s: %d records lost; the first: %w", c.stream, p.Stats().Failed, *lost)
			}
			for _, m := range batch {
				if err := p.Put(ctx, m.key, m.data); err != nil {
					return err
				}
			}
			return nil
		}
		b.close = func() error {
			// Send what is buffered: records put are not dropped at exit.
			ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			return p.Close(ctx)
		}
	}
	return b, nil
}

// cleanupAWS deletes the stream and both tables; missing ones are skipped.
func cleanupAWS(ctx context.Context, c config, out io.Writer) error {
	a, err := newAWSClients(ctx, c, slog.New(slog.NewTextHandler(out, nil)))
	if err != nil {
		return err
	}
	all := c
	all.roles = roles{producer: true, consumer: true, web: true}
	if err := a.checkReachable(ctx, all); err != nil {
		return err
	}
	if err := kinesisstream.DeleteStream(ctx, a.kinesis, c.stream); err != nil {
		return fmt.Errorf("-stream %s: %w", c.stream, err)
	}
	fmt.Fprintf(out, "visualizer: deleted stream %s\n", c.stream)
	for _, t := range []struct{ flag, name string }{{"lease-table", c.leaseTable}, {"counts-table", c.countsTable}} {
		_, err := a.dynamodb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(t.name)})
		var notFound *ddbtypes.ResourceNotFoundException
		switch {
		case errors.As(err, &notFound):
			fmt.Fprintf(out, "visualizer: no table %s to delete\n", t.name)
		case err != nil:
			return fmt.Errorf("-%s %s: %w", t.flag, t.name, err)
		default:
			// Deletion is asynchronous; wait, so that the names can be used
			// again at once.
			w := dynamodb.NewTableNotExistsWaiter(a.dynamodb, func(o *dynamodb.TableNotExistsWaiterOptions) {
				o.MinDelay = 100 * time.Millisecond
				o.MaxDelay = 2 * time.Second
			})
			if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.name)}, 2*time.Minute); err != nil {
				return fmt.Errorf("-%s %s: waiting for the deletion: %w", t.flag, t.name, err)
			}
			fmt.Fprintf(out, "visualizer: deleted table %s\n", t.name)
		}
	}
	return nil
}
