// Package awsconf loads the AWS SDK's configuration for streamtop's
// programs (the visualizer, cmd/streamtop) so that the SDK's own log lines
// (a failed instance-metadata lookup while it looks for credentials, a
// clock skew, a retry) are records of the program's *slog.Logger, not lines
// the SDK writes to stderr by itself.
package awsconf

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
)

// Logger is a logging.Logger, the SDK's, that writes each line to a
// *slog.Logger: WARN at slog.LevelWarn, DEBUG at slog.LevelDebug, anything
// else at slog.LevelInfo, with the attribute component=aws-sdk. It also
// implements logging.ContextLogger, so the records carry the context of
// the call that logged them. The zero value logs nothing. A Logger is a
// plain value, safe for concurrent use as its slog.Logger is; a line costs
// one fmt.Sprintf and one slog record.
type Logger struct {
	l   *slog.Logger
	ctx context.Context
}

var (
	_ logging.Logger        = Logger{}
	_ logging.ContextLogger = Logger{}
)

// NewLogger returns a Logger writing to l (nil: logging nothing).
func NewLogger(l *slog.Logger) Logger { return Logger{l: l} }

// Logf logs one SDK line.
func (g Logger) Logf(cl logging.Classification, format string, v ...any) {
	if g.l == nil {
		return
	}
	level := slog.LevelInfo
	switch cl {
	case logging.Warn:
		level = slog.LevelWarn
	case logging.Debug:
		level = slog.LevelDebug
	}
	ctx := g.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if !g.l.Enabled(ctx, level) {
		return
	}
	g.l.Log(ctx, level, fmt.Sprintf(format, v...), "component", "aws-sdk")
}

// WithContext returns g logging with ctx.
func (g Logger) WithContext(ctx context.Context) logging.Logger {
	g.ctx = ctx
	return g
}

// Load is awsconfig.LoadDefaultConfig with log as the SDK's logger, from
// the start of the loading on (the credential chain's instance-metadata
// client logs while it is being built) and in the Config it returns, for
// the clients made from it. The SDK's request and response logging
// (ClientLogMode) is turned off whatever a shared config file says: it
// would print records and signatures. opts come after the logger.
func Load(ctx context.Context, log *slog.Logger, opts ...func(*awsconfig.LoadOptions) error) (aws.Config, error) {
	sdkLog := NewLogger(log)
	cfg, err := awsconfig.LoadDefaultConfig(ctx, append([]func(*awsconfig.LoadOptions) error{awsconfig.WithLogger(sdkLog)}, opts...)...)
	if err != nil {
		return cfg, err
	}
	cfg.ClientLogMode = 0
	cfg.Logger = sdkLog
	return cfg, nil
}
