package workload

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"sync"
)

type visitKey struct {
	n, period int
	seed      uint64
}

var (
	visitMu    sync.Mutex
	visitCache = map[visitKey][]Visit{}
)

// Resources are the pages of the simulated site the visualizer's producer
// visits; their names hash to both shards of a two-shard stream.
var Resources = []string{"/index.html", "/products.html", "/cart.html", "/checkout.html"}

// Visit is one record of the original sample: a page view and where the
// visitor came from. Its JSON form is the visualizer's record.
type Visit struct {
	Resource string `json:"resource"`
	Referrer string `json:"referrer"`
}

// visitBase are the referrers' weights before drift, in Referrers' order,
// close enough that the drift reorders them.
var visitBase = []float64{6, 5, 4, 3, 2, 1}

// VisitStream returns n visits as the original sample's producer makes them:
// a page drawn uniformly, then a referrer by weights that swing around their
// base as a sine with the given period (in records), with a phase per
// referrer and page, so each page's top referrers change a few times over the
// stream. The slice is shared and cached: do not modify it.
func VisitStream(n, period int, seed uint64) []Visit {
	visitMu.Lock()
	defer visitMu.Unlock()
	if v, ok := visitCache[visitKey{n, period, seed}]; ok {
		return v
	}
	rng := rand.New(rand.NewPCG(seed, 0x7151))
	cum := make([][]float64, len(Resources))
	for i := range cum {
		cum[i] = make([]float64, len(Referrers))
	}
	out := make([]Visit, n)
	for i := range out {
		if i%1024 == 0 { // the drift is slow: weights per block of records
			visitWeights(cum, i, period)
		}
		res := rng.IntN(len(Resources))
		c := cum[res]
		x := rng.Float64() * c[len(c)-1]
		ref := 0
		for ref < len(c)-1 && x >= c[ref] {
			ref++
		}
		out[i] = Visit{Resources[res], Referrers[ref]}
	}
	visitCache[visitKey{n, period, seed}] = out
	return out
}

func visitWeights(cum [][]float64, i, period int) {
	for res := range cum {
		sum := 0.0
		for ref := range cum[res] {
			phase := 2*math.Pi*float64(ref)/float64(len(Referrers)) + float64(res)*1.3
			if period > 0 {
				phase += 2 * math.Pi * float64(i%period) / float64(period)
			}
			sum += visitBase[ref] * (1 + 0.7*math.Sin(phase))
			cum[res][ref] = sum
		}
	}
}

// VisitRecords returns the JSON record of each visit. Records of the same
// page and referrer share one encoding, as a producer that encodes each pair
// once would send.
func VisitRecords(visits []Visit) [][]byte {
	enc := map[Visit][]byte{}
	out := make([][]byte, len(visits))
	for i, v := range visits {
		b, ok := enc[v]
		if !ok {
			var err error
			if b, err = json.Marshal(v); err != nil {
				panic(err) // two strings always encode
			}
			enc[v] = b
		}
		out[i] = b
	}
	return out
}

// VisitKeys returns one key per visit, "resource referrer", for the counting
// structures that take a single key; equal pairs share one string.
func VisitKeys(visits []Visit) []string {
	keys := map[Visit]string{}
	out := make([]string, len(visits))
	for i, v := range visits {
		k, ok := keys[v]
		if !ok {
			k = v.Resource + " " + v.Referrer
			keys[v] = k
		}
		out[i] = k
	}
	return out
}
