package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// The simulated site: its pages, and the six referrers of the original
// sample. The pages' keys hash to both shards of a two-shard stream, so every
// shard carries load (the original used one page and left a shard idle).
var (
	resources = []string{"/index.html", "/products.html", "/cart.html", "/checkout.html"}
	referrers = []string{
		"http://www.amazon.com",
		"http://www.google.com",
		"http://www.yahoo.com",
		"http://www.bing.com",
		"http://www.stackoverflow.com",
		"http://www.reddit.com",
	}
	// baseWeights are the referrers' shares before drift, in referrers'
	// order; close enough together that the drift reorders them.
	baseWeights = []float64{6, 5, 4, 3, 2, 1}
)

// message is one record to put, with its partition key: the page's name, or
// a visitor's ID (see -partition-key).
type message struct {
	key  string
	data []byte
}

// visitors is how many visitors the simulated site has when records are
// keyed by visitor: enough that the keys spread evenly over 64 shards (the
// most -shards allows), few enough to draw their IDs once.
const visitors = 10_000

// traffic draws simulated visits. Each referrer's weight swings around its
// base weight as a sine of time, with a phase per referrer and per page, so
// the ranking changes while one watches and differs between pages.
//
// The zero value is not usable; use newTraffic. A traffic is used by one
// goroutine at a time. Drawing a visit costs O(len(referrers)) and allocates
// nothing: the records' bytes and the visitors' IDs are made once and
// shared.
type traffic struct {
	rng *rand.Rand
	// visitorIDs are the partition keys of records keyed by visitor; nil
	// keys them by page.
	visitorIDs []string
	// period of the drift; 0 keeps every weight at its base.
	period    time.Duration
	amplitude float64
	encoded   [][][]byte // [resource][referrer] -> JSON record
	cum       [][]float64
}

// newTraffic returns the traffic of seed, drifting over period, keyed as
// partitionKey (keyPage or keyRandom) says.
func newTraffic(seed uint64, period time.Duration, partitionKey string) *traffic {
	g := &traffic{
		rng:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		period:    period,
		amplitude: 0.7,
		encoded:   make([][][]byte, len(resources)),
		cum:       make([][]float64, len(resources)),
	}
	for i, res := range resources {
		g.encoded[i] = make([][]byte, len(referrers))
		for j, ref := range referrers {
			b, err := json.Marshal(visit{Resource: res, Referrer: ref})
			if err != nil {
				panic(err) // two constant strings always encode
			}
			g.encoded[i][j] = b
		}
		g.cum[i] = make([]float64, len(referrers))
	}
	if partitionKey == keyRandom {
		g.visitorIDs = make([]string, visitors)
		for i := range g.visitorIDs {
			g.visitorIDs[i] = fmt.Sprintf("visitor-%016x", g.rng.Uint64())
		}
	}
	return g
}

// weights returns the referrers' weights for one page at time t.
func (g *traffic) weights(resource int, t time.Time) []float64 {
	w := make([]float64, len(referrers))
	for j := range w {
		w[j] = g.weight(resource, j, t)
	}
	return w
}

func (g *traffic) weight(resource, referrer int, t time.Time) float64 {
	base := baseWeights[referrer]
	if g.period <= 0 {
		return base
	}
	phase := 2*math.Pi*float64(t.UnixNano()%int64(g.period))/float64(g.period) +
		2*math.Pi*float64(referrer)/float64(len(referrers)) +
		float64(resource)*1.3
	return base * (1 + g.amplitude*math.Sin(phase))
}

// at fixes the weights for the visits drawn next; the producer calls it once
// per batch, which keeps the sines out of the per-record path.
func (g *traffic) at(t time.Time) {
	for i := range resources {
		sum := 0.0
		for j := range referrers {
			sum += g.weight(i, j, t)
			g.cum[i][j] = sum
		}
	}
}

// draw returns one visit: a page chosen uniformly, then a referrer by the
// page's weights, and then, keyed by visitor, a visitor chosen uniformly.
func (g *traffic) draw() message {
	i := g.rng.IntN(len(resources))
	c := g.cum[i]
	x := g.rng.Float64() * c[len(c)-1]
	j := 0
	for j < len(c)-1 && x >= c[j] {
		j++
	}
	key := resources[i]
	if g.visitorIDs != nil {
		key = g.visitorIDs[g.rng.IntN(len(g.visitorIDs))]
	}
	return message{key: key, data: g.encoded[i][j]}
}

// producer puts simulated visits on a stream at a steady rate, in batches.
// Its zero value is not usable; the fields are set once before run, and one
// goroutine runs it; sent is safe to read while run works. Each record costs a
// draw (O(referrers)) and its share of one put per batch.
type producer struct {
	traffic *traffic
	rate    int // records per second
	batch   int // records per put, at most
	put     func(ctx context.Context, batch []message) error
	sent    atomic.Int64
	buf     []message
}

// run puts records until ctx ends. ticks paces it: at each tick t it sends
// what the rate owes for the time since start, so a slow put is caught up on
// instead of lowering the rate, but never more than one second's worth at
// once after a stall.
func (p *producer) run(ctx context.Context, start time.Time, ticks <-chan time.Time) error {
	var owed float64 // whole records owed are sent; the fraction carries over
	last := start
	for {
		var t time.Time
		select {
		case <-ctx.Done():
			return nil
		case t = <-ticks:
		}
		if !t.After(last) {
			continue
		}
		owed = min(owed+float64(p.rate)*t.Sub(last).Seconds(), float64(p.rate))
		last = t
		due := int(owed)
		owed -= float64(due)
		if err := p.send(ctx, due, t); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// send puts n visits drawn with the weights of time t, in batches.
func (p *producer) send(ctx context.Context, n int, t time.Time) error {
	p.traffic.at(t)
	for n > 0 {
		k := min(n, p.batch)
		p.buf = p.buf[:0]
		for range k {
			p.buf = append(p.buf, p.traffic.draw())
		}
		if err := p.put(ctx, p.buf); err != nil {
			return err
		}
		p.sent.Add(int64(k))
		n -= k
	}
	return nil
}
