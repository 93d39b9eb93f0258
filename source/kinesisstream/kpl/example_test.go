package kpl_test

import (
	"errors"
	"fmt"

	"github.com/streamtop/streamtop/source/kinesisstream/kpl"
)

// A producer packs user records into aggregated records of at most MaxSize
// bytes; a consumer expands each Kinesis record it reads into its
// sub-records, and passes plain and corrupt records on whole.
func Example() {
	agg := kpl.Aggregator{MaxSize: 120}
	var kinesisRecords []kpl.Record // what a producer would put to the stream
	for _, r := range []kpl.Record{
		{PartitionKey: "/index.html", Data: []byte(`{"referrer":"example.com"}`)},
		{PartitionKey: "/index.html", Data: []byte(`{"referrer":"example.org"}`)},
		{PartitionKey: "/about.html", Data: []byte(`{"referrer":"example.net"}`)},
	} {
		err := agg.Add(r)
		if errors.Is(err, kpl.ErrFull) {
			out, _ := agg.Flush()
			kinesisRecords = append(kinesisRecords, out)
			err = agg.Add(r)
		}
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	if out, ok := agg.Flush(); ok {
		kinesisRecords = append(kinesisRecords, out)
	}
	kinesisRecords = append(kinesisRecords, kpl.Record{PartitionKey: "plain", Data: []byte("not aggregated")})

	var dec kpl.Decoder
	var subs []kpl.Record
	for i, kr := range kinesisRecords {
		var err error
		subs, err = dec.Decode(subs[:0], kr.Data)
		switch {
		case errors.Is(err, kpl.ErrNotAggregated):
			fmt.Printf("record %d: plain, %s\n", i, kr.Data)
		case err != nil:
			fmt.Printf("record %d: corrupt (%v), passed on whole\n", i, err)
		default:
			fmt.Printf("record %d: %d bytes under key %s holds\n", i, len(kr.Data)+len(kr.PartitionKey), kr.PartitionKey)
			for sub, r := range subs {
				fmt.Printf("  %d: %s %s\n", sub, r.PartitionKey, r.Data)
			}
		}
	}
	// Output:
	// record 0: 108 bytes under key /index.html holds
	//   0: /index.html {"referrer":"example.com"}
	//   1: /index.html {"referrer":"example.org"}
	// record 1: 76 bytes under key /about.html holds
	//   0: /about.html {"referrer":"example.net"}
	// record 2: plain, not aggregated
}
