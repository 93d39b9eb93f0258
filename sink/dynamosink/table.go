package dynamosink

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/streamtop/streamtop/internal/ddb"
)

// ErrNoTTL is wrapped by the error CreateTable returns when the table is
// ready but DynamoDB's TTL could not be turned on for expiresAt: on a local
// emulator without UpdateTimeToLive (dynalite), or when the table's TTL is
// already set to another attribute. Writes and reads work as ever, and reads
// still skip expired snapshots; only the storage is never reclaimed. Callers
// usually log it and go on.
var ErrNoTTL = errors.New("sink/dynamosink: TTL not enabled")

// TableClient is the part of *dynamodb.Client that CreateTable calls:
// CreateTable, DescribeTable, DescribeTimeToLive and UpdateTimeToLive.
type TableClient interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	DescribeTimeToLive(ctx context.Context, in *dynamodb.DescribeTimeToLiveInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// CreateTable creates a counts table named table if there is none, billed per
// request, waits until it is ACTIVE or ctx ends, and turns on TTL for
// expiresAt. An existing table must be keyed as a counts table (resource and
// timestamp, both strings). When everything but TTL succeeded, the error
// wraps ErrNoTTL and the table is ready to use.
func CreateTable(ctx context.Context, client TableClient, table string) error {
	if client == nil {
		return fmt.Errorf("%w: nil client", ErrInvalidOption)
	}
	if err := ddb.ValidTableName(table, ErrInvalidOption); err != nil {
		return err
	}
	err := ddb.CreateTable(ctx, client, &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrResource), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrTimestamp), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrResource), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrTimestamp), KeyType: types.KeyTypeRange},
		},
	}, "sink/dynamosink", func(d *types.TableDescription) error { return checkSchema(table, d) })
	if err != nil {
		return err
	}
	return enableTTL(ctx, client, table)
}

// checkSchema refuses a table not keyed as a counts table, whose items this
// package could neither write nor query.
func checkSchema(table string, d *types.TableDescription) error {
	want := map[string]types.KeyType{attrResource: types.KeyTypeHash, attrTimestamp: types.KeyTypeRange}
	ok := len(d.KeySchema) == len(want)
	for _, k := range d.KeySchema {
		ok = ok && want[aws.ToString(k.AttributeName)] == k.KeyType
	}
	strings := 0
	for _, a := range d.AttributeDefinitions {
		if _, key := want[aws.ToString(a.AttributeName)]; key && a.AttributeType == types.ScalarAttributeTypeS {
			strings++
		}
	}
	if !ok || strings != len(want) {
		return fmt.Errorf("%w: table %q exists but is not a counts table: its keys must be %s (hash) and %s (range), both strings",
			ErrInvalidOption, table, attrResource, attrTimestamp)
	}
	return nil
}

// enableTTL turns on TTL for expiresAt unless it is on (or turning on)
// already: DynamoDB refuses to enable it twice.
func enableTTL(ctx context.Context, client TableClient, table string) error {
	desc, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		return ttlError(table, err)
	}
	if d := desc.TimeToLiveDescription; d != nil {
		switch d.TimeToLiveStatus {
		case types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling:
			if name := aws.ToString(d.AttributeName); name != attrExpiresAt {
				return fmt.Errorf("%w on %q: the table's TTL uses attribute %q, not %q", ErrNoTTL, table, name, attrExpiresAt)
			}
			return nil
		}
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attrExpiresAt),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return ttlError(table, err)
	}
	return nil
}

// ttlError reports a failed TTL call. An emulator without the operation
// gives ErrNoTTL; anything else (a network error, a missing permission) is
// not known to leave a working table, so the caller sees it as it is.
func ttlError(table string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "UnknownOperationException" {
		return fmt.Errorf("%w on %q: this DynamoDB does not implement it (%v)", ErrNoTTL, table, err)
	}
	return fmt.Errorf("sink/dynamosink: enable TTL on %q: %w", table, err)
}
