package dynamostore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/internal/ddb"
)

// TableClient is the part of *dynamodb.Client that CreateTable calls:
// CreateTable and DescribeTable.
type TableClient interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// CreateTable creates a lease table named table if there is none, billed per
// request, and waits until it is ACTIVE or ctx ends. An existing table must
// have leaseKey (a string) as its only key; its settings are left alone.
// Several workers may call it at once on a new table.
func CreateTable(ctx context.Context, client TableClient, table string) error {
	if client == nil {
		return fmt.Errorf("%w: nil client", ErrInvalidOption)
	}
	if err := ddb.ValidTableName(table, ErrInvalidOption); err != nil {
		return err
	}
	return ddb.CreateTable(ctx, client, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(attrKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(attrKey), KeyType: types.KeyTypeHash}},
	}, "checkpoint/dynamostore", func(d *types.TableDescription) error { return checkSchema(table, d) })
}

// checkSchema refuses a table that is not keyed on leaseKey alone: leases
// written to it would be unreadable by the KCL and by this package.
func checkSchema(table string, d *types.TableDescription) error {
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
