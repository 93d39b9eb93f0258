package main

import (
	"encoding/json"
	"testing"
)

const benchLine = `{"ts":"2026-12-06T00:00:00.001Z","ip":"10.0.0.107","request":{"method":"GET","path":"/products/0","headers":{"host":"shop.example","user-agent":"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"}},"status":200,"bytes":8119,"referrer":"https://site0.example/"}`

// BenchmarkLookup compares the path scanner with encoding/json decoding the
// same line, into a map (what a generic tool must do) and into a struct.
func BenchmarkLookup(b *testing.B) {
	line := []byte(benchLine)
	for _, path := range []string{"ip", "request.headers.host", "referrer"} {
		p, _ := parseJSONPath(path)
		b.Run("scan/"+path, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(line)))
			var scratch []byte
			for b.Loop() {
				v, _, s, err := p.lookup(line, scratch)
				scratch = s
				if err != nil || len(v) == 0 {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("encoding-json/map", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(line)))
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				b.Fatal(err)
			}
			_ = m["referrer"].(string)
		}
	})
	b.Run("encoding-json/struct", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(line)))
		for b.Loop() {
			var v struct {
				Referrer string `json:"referrer"`
			}
			if err := json.Unmarshal(line, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
