package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// tableClient is the part of the DynamoDB API that CreateTable uses.
type tableClient interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// tablePoll is how often CreateTable looks whether the table is ACTIVE; a
// new table takes seconds on AWS and half a second on dynalite.
const tablePoll = 100 * time.Millisecond

// CreateTable creates a lease table named table if there is none, billed per
// request, and waits until it is ACTIVE or ctx ends. An existing table must
// have leaseKey (a string) as its only key; its settings are left alone.
// Several workers may call it at once on a new table.
func CreateTable(ctx context.Context, client tableClient, table string) error {
	if client == nil {
		return fmt.Errorf("%w: nil client", ErrInvalidOption)
	}
	if err := validTableName(table); err != nil {
		return err
	}
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(attrKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(attrKey), KeyType: types.KeyTypeHash}},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("checkpoint/dynamodb: create table %q: %w", table, err)
	}
	for {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return fmt.Errorf("checkpoint/dynamodb: describe table %q: %w", table, err)
		}
		if err := checkSchema(table, out.Table); err != nil {
			return err
		}
		if out.Table.TableStatus == types.TableStatusActive {
			return nil
		}
		t := time.NewTimer(tablePoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("checkpoint/dynamodb: table %q is %s: %w", table, out.Table.TableStatus, ctx.Err())
		case <-t.C:
		}
	}
}

// checkSchema refuses a table that is not keyed on leaseKey alone: leases
// written to it would be unreadable by the KCL and by this package.
func checkSchema(table string, d *types.TableDescription) error {
	if d == nil {
		return fmt.Errorf("checkpoint/dynamodb: describe table %q: no description", table)
	}
	ks := d.KeySchema
	if len(ks) == 1 && aws.ToString(ks[0].AttributeName) == attrKey && ks[0].KeyType == types.KeyTypeHash {
		for _, a := range d.AttributeDefinitions {
			if aws.ToString(a.AttributeName) == attrKey && a.AttributeType == types.ScalarAttributeTypeS {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: table %q exists but is not a lease table: its key must be %s (a string) alone", ErrInvalidOption, table, attrKey)
}
