// Package scrape reads a Prometheus metrics endpoint for tests: each sample
// by its name and labels, as the text exposition format writes them.
package scrape

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Metrics fetches url and returns each sample's value by its name and
// labels (`streamtop_consumer_records_total{name="app"}`). A status other
// than 200 ends t.
func Metrics(t testing.TB, url string) map[string]float64 {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("GET %s: line %q: %v", url, line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return out
}
