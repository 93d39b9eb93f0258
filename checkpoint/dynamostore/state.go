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
	"github.com/streamtop/streamtop/internal/chunk"
	"github.com/streamtop/streamtop/internal/ddb"
)

// A state table keeps the processor states too large to ride in their lease
// item, so that a lease item stays under a kilobyte and a renewal costs one
// write unit whatever the state's size. Each state written is a generation
// with an ID of its own, stored as a header item that lists its chunks, and
// chunk items, all under the lease's key:
//
//	leaseKey  S   hash key: the lease's key
//	part      S   range key: "h#<gen>" for a header, "c#<gen>#<i>" for the
//	              i-th chunk generation gen wrote
//	size      N   (header) the state's length in bytes
//	counter   N   (header) the lease counter its checkpoint was conditional on
//	chunks    B   (header) the manifest: the state's chunks in order, each
//	              as the chunk item that holds it, its length and the first
//	              16 bytes of its SHA-256
//	data      B   (chunk) the chunk's bytes
//
// States are cut into chunks where their content says (internal/chunk), so
// that two states sharing a run of bytes share the chunks inside it. A
// generation writes only the chunks its lease's current generation does not
// hold and names the others where they are: a window whose closed panes do
// not change between checkpoints writes its new pane, a few chunks at the
// edges and the manifest, not the window. The Store remembers the manifest
// of each lease it last wrote or read, and reuses chunks only while the
// lease still names that generation (the checkpoint is conditional on it).
//
// A checkpoint writes the new header first, then its new chunks, then the
// conditional checkpoint that names the generation in the lease item
// (stateGeneration), so a crash at any point leaves the lease naming the old
// generation or the new one, whole. Generations the lease does not name are
// garbage, found by their headers: after every checkpoint that wrote or
// dropped a table state, and when the lease is deleted, each header of a
// counter up to the kept one's is deleted, after the chunks its manifest
// names and the kept one does not (those a crash left behind included). A
// header of a higher counter is a later owner's, and is left to it. DynamoDB
// has no transactions here (dynalite has none), and none are needed.
const (
	stateAttrPart    = "part"
	stateAttrSize    = "size"
	stateAttrCounter = "counter"
	stateAttrChunks  = "chunks"
	stateAttrData    = "data"
	attrStateGen     = "stateGeneration" // in the lease item
	batchWriteItems  = 25                // BatchWriteItem's limit
)

// MaxTableStateSize is the largest Lease.State a Store with a state table
// writes: 16 MiB. Writing one whole costs about 16,400 write units and
// restoring it a Query of 16 MiB, about 4,100 read units; a checkpoint that
// changes a few chunks of it writes those and a manifest of about 20 bytes
// per 12 KiB of state.
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
	}, "checkpoint/dynamostore", func(d *types.TableDescription) error { return checkStateSchema(table, d) })
}

// checkStateSchema refuses a table that is not keyed on leaseKey (hash) and
// part (range), both strings: a lease table given by mistake, say.
func checkStateSchema(table string, d *types.TableDescription) error {
	ks := d.KeySchema
	if len(ks) == 2 && aws.ToString(ks[0].AttributeName) == attrKey && ks[0].KeyType == types.KeyTypeHash &&
		aws.ToString(ks[1].AttributeName) == stateAttrPart && ks[1].KeyType == types.KeyTypeRange {
		strs := 0
		for _, a := range d.AttributeDefinitions {
			if n := aws.ToString(a.AttributeName); (n == attrKey || n == stateAttrPart) && a.AttributeType == types.ScalarAttributeTypeS {
				strs++
			}
		}
		if strs == 2 {
			return nil
		}
	}
	return fmt.Errorf("%w: table %q exists but is not a state table: its key must be %s (hash) and %s (range), both strings", ErrInvalidOption, table, attrKey, stateAttrPart)
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

func headerPart(gen string) string { return "h#" + gen }

// remembered returns the manifest of key's generation the Store last wrote
// or read, or nil.
func (s *Store) remembered(key string) *manifest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[key]
}

// remember records m (nil: none) as key's current generation.
func (s *Store) remember(key string, m *manifest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m == nil {
		delete(s.last, key)
		return
	}
	if s.last == nil {
		s.last = map[string]*manifest{}
	}
	s.last[key] = m
}

// saw forgets what the Store remembers of key if the lease item it just
// read names another generation: chunks are reused only from the
// generation the lease names.
func (s *Store) saw(key, gen string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.last[key]; m != nil && m.gen != gen {
		delete(s.last, key)
	}
}

// putState writes state as generation gen of key, for a checkpoint
// conditional on counter: the header, then the chunks prev (key's current
// generation, or nil) does not hold. It returns the manifest and the new
// chunks, which are the generation's to delete if it never gets named,
// whether it wrote them all or failed on the way.
func (s *Store) putState(ctx context.Context, key, gen string, counter int64, state []byte, prev *manifest) (*manifest, []chunkRef, error) {
	known := map[[sumSize]byte]chunkRef{}
	if prev != nil {
		for _, c := range prev.chunks {
			known[c.sum] = c
		}
	}
	m := &manifest{gen: gen, counter: counter, size: len(state)}
	var fresh []chunkRef
	var puts []types.WriteRequest
	freshBytes, start := 0, 0
	for _, end := range chunk.Cut(state, nil) {
		data := state[start:end]
		full := sha256.Sum256(data)
		var sum [sumSize]byte
		copy(sum[:], full[:])
		c, ok := known[sum]
		if !ok || c.n != len(data) {
			c = chunkRef{gen: gen, i: len(fresh), n: len(data), sum: sum}
			known[sum] = c
			fresh = append(fresh, c)
			freshBytes += len(data)
			puts = append(puts, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				attrKey: str(key), stateAttrPart: str(c.part()),
				stateAttrData: &types.AttributeValueMemberB{Value: data},
			}}})
		}
		m.chunks = append(m.chunks, c)
		start = end
	}
	// The header first: collect finds a generation by its header, so one
	// whose chunks a crash cut short is still found and deleted.
	list := encodeChunks(m)
	header := []types.WriteRequest{{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
		attrKey: str(key), stateAttrPart: str(headerPart(gen)),
		stateAttrSize: ddb.Num(int64(len(state))), stateAttrCounter: ddb.Num(counter),
		stateAttrChunks: &types.AttributeValueMemberB{Value: list},
	}}}}
	if err := s.batchWrite(ctx, "checkpoint", key, header); err != nil {
		return m, fresh, err
	}
	s.stats.stateBytes.Add(int64(len(list)))
	if err := s.batchWrite(ctx, "checkpoint", key, puts); err != nil {
		return m, fresh, err
	}
	s.stats.stateBytes.Add(int64(freshBytes))
	s.stats.stateChunks.Add(int64(len(fresh)))
	return m, fresh, nil
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

// query pages through the items of key whose part begins with prefix.
func (s *Store) query(ctx context.Context, op, key, prefix string, each func(map[string]types.AttributeValue) error) error {
	sc := s.client.(StateClient)
	var start map[string]types.AttributeValue
	for {
		out, err := retry(ctx, s, op, key, func(ctx context.Context) (*dynamodb.QueryOutput, error) {
			return sc.Query(ctx, &dynamodb.QueryInput{
				TableName:                s.stateTable,
				ConsistentRead:           aws.Bool(true),
				KeyConditionExpression:   aws.String("#k = :k AND begins_with(#p, :p)"),
				ExpressionAttributeNames: map[string]string{"#k": attrKey, "#p": stateAttrPart},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":k": str(key), ":p": str(prefix),
				},
				ExclusiveStartKey: start,
			})
		})
		if err != nil {
			return s.wrap(op, key, fmt.Errorf("state table %s: %w", *s.stateTable, err))
		}
		for _, item := range out.Items {
			if err := each(item); err != nil {
				return err
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		start = out.LastEvaluatedKey
	}
}

// readHeader decodes a header item.
func readHeader(item map[string]types.AttributeValue) (*manifest, error) {
	p, _ := item[stateAttrPart].(*types.AttributeValueMemberS)
	if p == nil || !strings.HasPrefix(p.Value, "h#") {
		return nil, fmt.Errorf("%w: not a header", errManifest)
	}
	size, err1 := ddb.GetN(item, stateAttrSize)
	counter, err2 := ddb.GetN(item, stateAttrCounter)
	b, ok := item[stateAttrChunks].(*types.AttributeValueMemberB)
	if err := errors.Join(err1, err2); err != nil || !ok {
		return nil, fmt.Errorf("%w: header %s: %v", errManifest, p.Value, err)
	}
	chunks, err := decodeChunks(b.Value, int(min(size, MaxTableStateSize+1)))
	if err != nil {
		return nil, fmt.Errorf("header %s: %w", p.Value, err)
	}
	return &manifest{gen: strings.TrimPrefix(p.Value, "h#"), counter: counter, size: int(size), chunks: chunks}, nil
}

// getState reads generation gen of key back, whole and checked, and
// remembers its manifest.
func (s *Store) getState(ctx context.Context, op, key, gen string) ([]byte, error) {
	hout, err := retry(ctx, s, op, key, func(ctx context.Context) (*dynamodb.GetItemOutput, error) {
		return s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.stateTable,
			Key: stateKey(key, headerPart(gen)), ConsistentRead: aws.Bool(true)})
	})
	if err != nil {
		return nil, s.wrap(op, key, fmt.Errorf("state table %s: %w", *s.stateTable, err))
	}
	if len(hout.Item) == 0 {
		return nil, fmt.Errorf("%w: lease %q names state generation %s, which is not in %s", errCorruptState, key, gen, *s.stateTable)
	}
	m, err := readHeader(hout.Item)
	if err != nil {
		return nil, fmt.Errorf("%w: lease %q: %w", errCorruptState, key, err)
	}
	// Every chunk item of the key, garbage included (a generation's worth
	// at most, between checkpoints); the manifest picks its own.
	want := m.parts()
	data := make(map[string][]byte, len(want))
	err = s.query(ctx, op, key, "c#", func(item map[string]types.AttributeValue) error {
		p, _ := item[stateAttrPart].(*types.AttributeValueMemberS)
		d, ok := item[stateAttrData].(*types.AttributeValueMemberB)
		if p != nil && ok && want[p.Value] {
			data[p.Value] = d.Value
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	state := make([]byte, 0, m.size)
	for _, c := range m.chunks {
		d, ok := data[c.part()]
		sum := sha256.Sum256(d)
		if !ok || len(d) != c.n || !bytes.Equal(sum[:sumSize], c.sum[:]) {
			return nil, fmt.Errorf("%w: lease %q: state generation %s: chunk %s is missing or does not match its checksum", errCorruptState, key, gen, c.part())
		}
		state = append(state, d...)
	}
	s.remember(key, m)
	return state, nil
}

// errCorruptState is wrapped by the errors of a state the table holds
// inconsistently: never by a state a crash left behind, which is garbage no
// lease names.
var errCorruptState = errors.New("checkpoint/dynamostore: corrupt state")

// collect deletes the generations of key that keep (nil: none) replaced: every
// header of a counter up to upTo but keep's, after the chunks it names that
// keep does not. It reads only the headers, which are small: every
// generation's header is written before its chunks and deleted after them,
// and a chunk is named by the generation that wrote it for as long as it
// lives, so no chunk a crash left behind is lost track of. Headers of a
// higher counter are a later owner's, whose checkpoint this Store's lost.
func (s *Store) collect(ctx context.Context, key string, keep *manifest, upTo int64) error {
	live := keep.parts()
	var chunks, headers []types.WriteRequest
	seen := map[string]bool{}
	drop := func(part string) {
		if !live[part] && !seen[part] {
			seen[part] = true
			chunks = append(chunks, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: stateKey(key, part)}})
		}
	}
	err := s.query(ctx, "collect", key, "h#", func(item map[string]types.AttributeValue) error {
		p, _ := item[stateAttrPart].(*types.AttributeValueMemberS)
		if p == nil || keep != nil && p.Value == headerPart(keep.gen) {
			return nil
		}
		m, err := readHeader(item)
		switch {
		case err == nil && m.counter > upTo:
			return nil
		case err == nil:
			for _, c := range m.chunks {
				drop(c.part())
			}
		default:
			// A header this Store cannot read names no chunk it could
			// keep: delete what its generation wrote, found by name
			// (and the parts of the layout before chunks, "p#<gen>#i").
			gen := strings.TrimPrefix(p.Value, "h#")
			for _, prefix := range []string{"c#" + gen + "#", "p#" + gen + "#"} {
				if err := s.query(ctx, "collect", key, prefix, func(item map[string]types.AttributeValue) error {
					if c, ok := item[stateAttrPart].(*types.AttributeValueMemberS); ok {
						drop(c.Value)
					}
					return nil
				}); err != nil {
					return err
				}
			}
		}
		headers = append(headers, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: stateKey(key, p.Value)}})
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.batchWrite(ctx, "collect", key, chunks); err != nil {
		return err
	}
	return s.batchWrite(ctx, "collect", key, headers)
}

// dropGeneration deletes generation gen of key, which no lease names and
// none will: the chunks it wrote, then its header. A failure leaves it to
// collect.
func (s *Store) dropGeneration(ctx context.Context, key, gen string, fresh []chunkRef) {
	var reqs []types.WriteRequest
	for _, c := range fresh {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: stateKey(key, c.part())}})
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

// names reports whether key's lease item names generation gen: whether a
// checkpoint that came back refused had gone through on an attempt whose
// answer was lost.
func (s *Store) names(ctx context.Context, key, gen string) bool {
	out, err := retry(ctx, s, "checkpoint", key, func(ctx context.Context) (*dynamodb.GetItemOutput, error) {
		return s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: keyOf(key),
			ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String(attrStateGen)})
	})
	return err != nil || parseGen(out.Item) == gen
}
