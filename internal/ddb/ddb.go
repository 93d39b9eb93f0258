// Package ddb holds what checkpoint/dynamostore and sink/dynamosink do alike with
// DynamoDB: table-name validation, creating a table and waiting for it,
// recognising throttling, and reading numbers out of items. Each caller
// passes its own error sentinel and message prefix, so errors still read and
// match as that package's own. Retrying is internal/backoff's.
package ddb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/internal/awserr"
	"github.com/streamtop/streamtop/internal/backoff"
)

// ValidTableName applies DynamoDB's rules for table names, so a typo fails
// when a client is configured rather than at its first request. The error
// wraps invalid, the caller's ErrInvalidOption.
func ValidTableName(table string, invalid error) error {
	if len(table) < 3 || len(table) > 255 {
		return fmt.Errorf("%w: table name %q has %d characters, want 3 to 255", invalid, table, len(table))
	}
	for _, r := range table {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return fmt.Errorf("%w: table name %q has %q; only a-z, A-Z, 0-9, '_', '-' and '.' are allowed", invalid, table, r)
		}
	}
	return nil
}

// TableClient is the part of the DynamoDB API that CreateTable uses.
type TableClient interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// TablePoll is how often CreateTable looks whether the table is ACTIVE; a
// new table takes seconds on AWS and half a second on dynalite.
const TablePoll = 100 * time.Millisecond

// CreateTable sends in unless the table exists already, which is no error
// (several workers may create one table at once), then waits until the
// table is ACTIVE or ctx ends. Every description is passed to check first,
// so a table of the same name but another schema is refused rather than
// used. Errors other than check's start with pkg, the caller's name.
func CreateTable(ctx context.Context, client TableClient, in *dynamodb.CreateTableInput, pkg string, check func(*types.TableDescription) error) error {
	table := aws.ToString(in.TableName)
	_, err := client.CreateTable(ctx, in)
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("%s: create table %q: %w", pkg, table, err)
	}
	for {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return fmt.Errorf("%s: describe table %q: %w", pkg, table, err)
		}
		if out.Table == nil {
			return fmt.Errorf("%s: describe table %q: no description", pkg, table)
		}
		if err := check(out.Table); err != nil {
			return err
		}
		if out.Table.TableStatus == types.TableStatusActive {
			return nil
		}
		if err := backoff.Sleep(ctx, TablePoll); err != nil {
			return fmt.Errorf("%s: table %q is %s: %w", pkg, table, out.Table.TableStatus, err)
		}
	}
}

// IsThrottle reports whether err is DynamoDB asking the caller to slow down
// (per-table or per-partition capacity, the account's request rate, the
// control plane's rate), the one kind of failure worth retrying unchanged.
// The codes are awserr's, shared with Kinesis.
func IsThrottle(err error) bool { return awserr.IsThrottle(err) }

// Num is a number attribute holding n.
func Num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// GetN reads the number attribute name of item; a missing one reads as 0,
// since DynamoDB items leave out what other writers never set.
func GetN(item map[string]types.AttributeValue, name string) (int64, error) {
	switch v := item[name].(type) {
	case nil:
		return 0, nil
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		return n, nil
	default:
		return 0, fmt.Errorf("%s has type %T, want a number", name, v)
	}
}
