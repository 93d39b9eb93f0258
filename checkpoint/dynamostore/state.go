package dynamostore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamtop/streamtop/internal/backoff"
	"github.com/streamtop/streamtop/internal/ddb"
)

// A state table keeps the processor states too large to ride in their lease
// item, so that a lease item stays under a kilobyte and a renewal costs one
// write unit whatever the state's size. Each state written is a generation
// with an ID of its own, stored as a header item and parts, all under the
// lease's key:
//
//	leaseKey  S   hash key: the lease's key
//	part      S   range key: "h#<gen>" for the header, "p#<gen>#<i>" for part i
//	parts     N   (header) the number of parts
//	size      N   (header) the state's length in bytes
//	sha256    B   (header) the state's SHA-256
//	data      B   (part) up to partSize bytes of the state
//
// A checkpoint writes the new generation's header and parts first, then the
// conditional checkpoint that names it in the lease item (stateGeneration),
// so a crash at any point leaves the lease naming the old generation or the
// new one, whole. Generations the lease does not name are garbage, found by
// their headers: after every checkpoint that wrote or dropped a table state,
// and when the lease is deleted, the others are deleted (parts first, header
// last), those a crash left behind included. DynamoDB has no transactions here (dynalite has none), and
// none are needed.
const (
	stateAttrPart   = "part"
	stateAttrParts  = "parts"
	stateAttrSize   = "size"
	stateAttrSum    = "sha256"
	stateAttrData   = "data"
	attrStateGen    = "stateGeneration" // in the lease item
	partSize        = 350 << 10         // under the 400 KB item limit, with the keys
	batchWriteItems = 25                // BatchWriteItem's limit
)

// MaxTableStateSize is the largest Lease.State a Store with a state table
// writes: 16 MiB, 47 parts. Writing one costs about 16,400 write units, and
// restoring it a Query of 16 MiB, about 4,100 read units.
const MaxTableStateSize = 16 << 20

// InlineStateSize is the largest state a Store with a state table keeps in
// the lease item itself: small states cost one request, as without a state
// table, and a lease item never exceeds about a kilobyte.
const InlineStateSize = 512

// StateClient is what a Store with a state table calls besides Client:
// BatchWriteItem for parts and deletions, Query to read a generation back. A
// *dynamodb.Client has both.
type StateClient interface {
	Client
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// WithStateTable keeps states larger than InlineStateSize, up to
// MaxTableStateSize, in the state table named table (made with
// CreateStateTable) instead of the lease item, so that renewals neither move
// nor bill them. The Store's client must then be a StateClient.
func WithStateTable(table string) Option {
	return optionFunc(func(s *Store) error {
		if err := ddb.ValidTableName(table, ErrInvalidOption); err != nil {
			return fmt.Errorf("WithStateTable: %w", err)
		}
		s.stateTable = aws.String(table)
		return nil
	})
}

// CreateStateTable creates a state table named table if there is none,
// billed per request, and waits until it is ACTIVE or ctx ends. An existing
// table must be keyed as a state table.
func CreateStateTable(ctx context.Context, client TableClient, table string) error {
	if client == nil {
		return fmt.Errorf("%w: nil client", ErrInvalidOption)
	}
	if err := ddb.ValidTableName(table, ErrInvalidOption); err != nil {
		return err
	}
	return ddb.CreateTable(ctx, client, &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrKey), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(stateAttrPart), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrKey), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(stateAttrPart), KeyType: types.KeyTypeRange},
		},
	}, "checkpoint/dynamostore", func(d *types.TableDescription) error {
		ks := d.KeySchema
		if len(ks) == 2 && aws.ToString(ks[0].AttributeName) == attrKey && aws.ToString(ks[1].AttributeName) == stateAttrPart {
			return nil
		}
		return fmt.Errorf("checkpoint/dynamostore: table %q exists but is not keyed (%s, %s) as a state table", table, attrKey, stateAttrPart)
	})
}

// newGeneration returns a fresh generation ID: 16 random bytes in hex.
func newGeneration() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func stateKey(key, part string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrKey: str(key), stateAttrPart: str(part)}
}

func headerPart(gen string) string      { return "h#" + gen }
func dataPart(gen string, i int) string { return fmt.Sprintf("p#%s#%04d", gen, i) }

// putState writes state as generation gen of key: the parts, then the header.
func (s *Store) putState(ctx context.Context, key, gen string, state []byte) error {
	var puts []types.WriteRequest
	n := 0
	for off := 0; off < len(state); off += partSize {
		end := min(off+partSize, len(state))
		puts = append(puts, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
			attrKey: str(key), stateAttrPart: str(dataPart(gen, n)),
			stateAttrData: &types.AttributeValueMemberB{Value: state[off:end]},
		}}})
		n++
	}
	sum := sha256.Sum256(state)
	// The header first: collect finds a generation by its header, so one
	// whose parts a crash cut short is still found and deleted.
	header := []types.WriteRequest{{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
		attrKey: str(key), stateAttrPart: str(headerPart(gen)),
		stateAttrParts: ddb.Num(int64(n)), stateAttrSize: ddb.Num(int64(len(state))),
		stateAttrSum: &types.AttributeValueMemberB{Value: sum[:]},
	}}}}
	if err := s.batchWrite(ctx, "checkpoint", key, header); err != nil {
		return err
	}
	return s.batchWrite(ctx, "checkpoint", key, puts)
}

// batchWrite writes reqs in batches of 25, resending what DynamoDB leaves
// unprocessed, under the Store's retry policy.
func (s *Store) batchWrite(ctx context.Context, op, key string, reqs []types.WriteRequest) error {
	sc := s.client.(StateClient)
	for len(reqs) > 0 {
		n := min(len(reqs), batchWriteItems)
		batch := reqs[:n]
		reqs = reqs[n:]
		for attempt := 0; len(batch) > 0; attempt++ {
			out, err := retry(ctx, s, op, key, func(ctx context.Context) (*dynamodb.BatchWriteItemOutput, error) {
				return sc.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
					RequestItems: map[string][]types.WriteRequest{*s.stateTable: batch},
				})
			})
			if err != nil {
				return s.wrap(op, key, fmt.Errorf("state table %s: %w", *s.stateTable, err))
			}
			batch = out.UnprocessedItems[*s.stateTable]
			if len(batch) > 0 {
				if attempt+1 >= s.attempts {
					return &ThrottledError{Table: *s.stateTable, Op: op, Key: key, Attempts: attempt + 1,
						Err: fmt.Errorf("state table %s: %d items left unprocessed", *s.stateTable, len(batch))}
				}
				if err := backoff.Sleep(ctx, s.backoff.Delay(attempt)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// getState reads generation gen of key back, whole and checked.
func (s *Store) getState(ctx context.Context, op, key, gen string) ([]byte, error) {
	sc := s.client.(StateClient)
	var (
		header map[string]types.AttributeValue
		parts  [][]byte
		start  map[string]types.AttributeValue
	)
	for {
		out, err := retry(ctx, s, op, key, func(ctx context.Context) (*dynamodb.QueryOutput, error) {
			return sc.Query(ctx, &dynamodb.QueryInput{
				TableName:              s.stateTable,
				ConsistentRead:         aws.Bool(true),
				KeyConditionExpression: aws.String("#k = :k AND begins_with(#p, :g)"),
				ExpressionAttributeNames: map[string]string{
					"#k": attrKey, "#p": stateAttrPart,
				},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":k": str(key), ":g": str("p#" + gen + "#"),
				},
				ExclusiveStartKey: start,
			})
		})
		if err != nil {
			return nil, s.wrap(op, key, fmt.Errorf("state table %s: %w", *s.stateTable, err))
		}
		for _, item := range out.Items {
			d, ok := item[stateAttrData].(*types.AttributeValueMemberB)
			if !ok {
				return nil, fmt.Errorf("%w: lease %q: state part without data", errCorruptState, key)
			}
			parts = append(parts, d.Value)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	hout, err := retry(ctx, s, op, key, func(ctx context.Context) (*dynamodb.GetItemOutput, error) {
		return s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.stateTable,
			Key: stateKey(key, headerPart(gen)), ConsistentRead: aws.Bool(true)})
	})
	if err != nil {
		return nil, s.wrap(op, key, fmt.Errorf("state table %s: %w", *s.stateTable, err))
	}
	header = hout.Item
	if len(header) == 0 {
		return nil, fmt.Errorf("%w: lease %q names state generation %s, which is not in %s", errCorruptState, key, gen, *s.stateTable)
	}
	n, err1 := ddb.GetN(header, stateAttrParts)
	size, err2 := ddb.GetN(header, stateAttrSize)
	sum, ok := header[stateAttrSum].(*types.AttributeValueMemberB)
	if err := errors.Join(err1, err2); err != nil || !ok || n != int64(len(parts)) || size > MaxTableStateSize {
		return nil, fmt.Errorf("%w: lease %q: state generation %s has %d parts of %d, size %d (%v)", errCorruptState, key, gen, len(parts), n, size, err)
	}
	state := bytes.Join(parts, nil)
	if got := sha256.Sum256(state); int64(len(state)) != size || !bytes.Equal(got[:], sum.Value) {
		return nil, fmt.Errorf("%w: lease %q: state generation %s does not match its checksum", errCorruptState, key, gen)
	}
	return state, nil
}

// errCorruptState is wrapped by the errors of a state the table holds
// inconsistently: never by a state a crash left behind, which is garbage no
// lease names.
var errCorruptState = errors.New("checkpoint/dynamostore: corrupt state")

// collect deletes every generation of key but keep (which may be empty):
// the garbage of replaced states and of crashes. It reads only the headers,
// which are small: every generation's header is written before its parts,
// and deleted after them, so a generation whose writing or deletion was cut
// short is still found by its header.
func (s *Store) collect(ctx context.Context, key, keep string) error {
	sc := s.client.(StateClient)
	var parts, headers []types.WriteRequest
	var start map[string]types.AttributeValue
	for {
		out, err := retry(ctx, s, "collect", key, func(ctx context.Context) (*dynamodb.QueryOutput, error) {
			return sc.Query(ctx, &dynamodb.QueryInput{
				TableName:                s.stateTable,
				ConsistentRead:           aws.Bool(true),
				KeyConditionExpression:   aws.String("#k = :k AND begins_with(#p, :h)"),
				ExpressionAttributeNames: map[string]string{"#k": attrKey, "#p": stateAttrPart},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":k": str(key), ":h": str("h#"),
				},
				ExclusiveStartKey: start,
			})
		})
		if err != nil {
			return s.wrap("collect", key, fmt.Errorf("state table %s: %w", *s.stateTable, err))
		}
		for _, item := range out.Items {
			p, _ := item[stateAttrPart].(*types.AttributeValueMemberS)
			if p == nil {
				continue
			}
			gen := strings.TrimPrefix(p.Value, "h#")
			if gen == keep {
				continue
			}
			n, err := ddb.GetN(item, stateAttrParts)
			if err != nil || n > MaxTableStateSize/partSize+1 {
				n = MaxTableStateSize/partSize + 1 // deleting a missing item is no error
			}
			for i := range int(n) {
				parts = append(parts, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: stateKey(key, dataPart(gen, i))}})
			}
			headers = append(headers, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: stateKey(key, p.Value)}})
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	if err := s.batchWrite(ctx, "collect", key, parts); err != nil {
		return err
	}
	return s.batchWrite(ctx, "collect", key, headers)
}

// dropGeneration deletes generation gen of key, of n parts, parts first:
// the writer's own, after its checkpoint failed. A failure leaves it to
// collect.
func (s *Store) dropGeneration(ctx context.Context, key, gen string, n int) {
	var reqs []types.WriteRequest
	for i := range n {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: stateKey(key, dataPart(gen, i))}})
	}
	reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: stateKey(key, headerPart(gen))}})
	_ = s.batchWrite(ctx, "checkpoint", key, reqs)
}

// parseGen reads the lease item's generation attribute.
func parseGen(item map[string]types.AttributeValue) string {
	if v, ok := item[attrStateGen].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}
