package kpl

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"strconv"
	"testing"
)

// benchInput is one full aggregated record of up to size bytes, of
// sub-records with dataLen bytes of data each, and either one partition key
// for all or one key each, as a KPL user writing random keys makes.
func benchInput(tb testing.TB, size, dataLen int, distinct bool) (data []byte, n int) {
	a := Aggregator{MaxSize: size}
	payload := bytes.Repeat([]byte{'x'}, dataLen)
	for i := 0; ; i++ {
		pk := "referrer"
		if distinct {
			pk = "user-" + strconv.Itoa(i)
		}
		err := a.Add(Record{PartitionKey: pk, Data: payload})
		if err == ErrFull {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	n = a.Len()
	agg, _ := a.Flush()
	return agg.Data, n
}

// walk is the baseline: it only parses the protobuf, every field of the
// AggregatedRecord and of each Record, with the parsing code Decode uses, and
// keeps nothing: no key strings, no index checks, no sub-records.
func walk(body []byte) (records int, ok bool) {
	for off := 0; off < len(body); {
		var key uint64
		var start, end int
		if body[off] == keyRecords && off+2 < len(body) && body[off+1] < 0x80 {
			key, start, end = keyRecords, off+2, off+2+int(body[off+1])
			if end > len(body) {
				return 0, false
			}
		} else {
			var ok bool
			if key, start, end, _, ok = field(body, off); !ok {
				return 0, false
			}
		}
		off = end
		if key == keyRecords {
			if _, _, _, _, ok := fastRecord(body, start, end); !ok {
				return 0, false
			}
			records++
		}
	}
	return records, true
}

// BenchmarkDecode compares Decode with the baseline walk, with and without
// the MD5 check, on full aggregated records of the KPL's default size (50
// KiB) and of the Kinesis limit (1 MiB). Compare the impl column:
//
//	go test -run '^$' -bench Decode -count 6 | benchstat -col /impl -
func BenchmarkDecode(b *testing.B) {
	for _, size := range []int{50 << 10, MaxRecordSize} {
		for _, dataLen := range []int{16, 100, 1000} {
			for _, distinct := range []bool{false, true} {
				benchDecode(b, size, dataLen, distinct)
			}
		}
	}
}

func benchDecode(b *testing.B, size, dataLen int, distinct bool) {
	data, n := benchInput(b, size, dataLen, distinct)
	keys := "shared"
	if distinct {
		keys = "distinct"
	}
	{
		{
			for _, check := range []bool{false, true} {
				for _, impl := range []string{"walk", "decode"} {
					name := fmt.Sprintf("agg=%dKiB/data=%d/keys=%s/md5=%v/impl=%s", size>>10, dataLen, keys, check, impl)
					b.Run(name, func(b *testing.B) {
						d := Decoder{SkipChecksum: !check}
						// Warm up, so that allocs/op shows the steady state.
						subs, _ := d.Decode(nil, data)
						b.SetBytes(int64(len(data)))
						b.ReportAllocs()
						for b.Loop() {
							switch impl {
							case "walk":
								body := data[len(magic) : len(data)-md5.Size]
								if check {
									if sum := md5.Sum(body); !bytes.Equal(sum[:], data[len(data)-md5.Size:]) {
										b.Fatal("checksum")
									}
								}
								if got, ok := walk(body); !ok || got != n {
									b.Fatalf("walk = %d, %v; want %d records", got, ok, n)
								}
							case "decode":
								var err error
								if subs, err = d.Decode(subs[:0], data); err != nil || len(subs) != n {
									b.Fatalf("Decode = %d records, %v; want %d", len(subs), err, n)
								}
							}
						}
						b.ReportMetric(float64(b.N)*float64(n)/b.Elapsed().Seconds(), "subrecords/s")
						b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/subrecord")
					})
				}
			}
		}
	}
}

// BenchmarkEncode fills an Aggregator to 1 MiB and flushes it.
func BenchmarkEncode(b *testing.B) {
	for _, dataLen := range []int{16, 100, 1000} {
		for _, distinct := range []bool{false, true} {
			keys := "shared"
			if distinct {
				keys = "distinct"
			}
			_, n := benchInput(b, MaxRecordSize, dataLen, distinct)
			records := make([]Record, n)
			payload := bytes.Repeat([]byte{'x'}, dataLen)
			for i := range records {
				records[i] = Record{PartitionKey: "referrer", Data: payload}
				if distinct {
					records[i].PartitionKey = "user-" + strconv.Itoa(i)
				}
			}
			b.Run(fmt.Sprintf("data=%d/keys=%s", dataLen, keys), func(b *testing.B) {
				var a Aggregator
				b.SetBytes(int64(n * dataLen))
				b.ReportAllocs()
				for b.Loop() {
					for _, r := range records {
						if err := a.Add(r); err != nil {
							b.Fatal(err)
						}
					}
					if _, ok := a.Flush(); !ok {
						b.Fatal("nothing to flush")
					}
				}
				b.ReportMetric(float64(b.N)*float64(n)/b.Elapsed().Seconds(), "subrecords/s")
			})
		}
	}
}

// TestDecodeAllocs holds Decode to its promise: no allocation per
// sub-record, one string per aggregated record for the keys, none when the
// key tables repeat.
func TestDecodeAllocs(t *testing.T) {
	for _, distinct := range []bool{false, true} {
		data, n := benchInput(t, MaxRecordSize, 100, distinct)
		var d Decoder
		subs, err := d.Decode(nil, data)
		if err != nil || len(subs) != n {
			t.Fatalf("Decode = %d records, %v; want %d", len(subs), err, n)
		}
		// The same record again: the key tables repeat.
		if got := testing.AllocsPerRun(10, func() { subs, _ = d.Decode(subs[:0], data) }); got != 0 {
			t.Errorf("distinct=%v: %v allocations decoding a record like the last", distinct, got)
		}
		// Another record each time: one allocation, for the keys.
		other, _ := benchInput(t, MaxRecordSize, 99, distinct)
		inputs, i := [][]byte{data, other}, 0
		if got := testing.AllocsPerRun(10, func() { subs, _ = d.Decode(subs[:0], inputs[i%2]); i++ }); got > 1 {
			t.Errorf("distinct=%v: %v allocations decoding %d sub-records, want at most 1", distinct, got, n)
		}
	}
}
