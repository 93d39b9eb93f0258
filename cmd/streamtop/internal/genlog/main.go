// Command genlog writes a synthetic web access log for streamtop's benchmark
// (bench/streamtop.sh): client addresses, paths and referrers drawn from Zipf
// distributions, in the combined log format or as JSON lines. The same seed
// writes the same bytes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/streamtop/streamtop/internal/workload"
)

func main() {
	n := flag.Int("n", 1_000_000, "lines to write")
	format := flag.String("format", "combined", "combined or json")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if *format != "combined" && *format != "json" {
		fmt.Fprintf(os.Stderr, "genlog: -format %q: combined or json\n", *format)
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	ips := workload.NewZipf(1.1, 100_000, *seed)
	paths := workload.NewZipf(1.0, 5_000, *seed+1)
	refs := workload.NewZipf(1.2, 500, *seed+2)
	statuses := []int{200, 200, 200, 200, 200, 200, 304, 404, 301, 500}
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	var b []byte
	for i := range *n {
		ip := ips.Next()
		ipText := fmt.Sprintf("10.%d.%d.%d", ip>>16&255, ip>>8&255, ip&255)
		path := fmt.Sprintf("/products/%d", paths.Next())
		ref := fmt.Sprintf("https://site%d.example/", refs.Next())
		status := statuses[i%len(statuses)]
		size := 200 + (i*7919)%50_000
		t := t0.Add(time.Duration(i) * time.Millisecond)
		b = b[:0]
		if *format == "combined" {
			b = fmt.Appendf(b, "%s - - [%s] \"GET %s HTTP/1.1\" %d %d \"%s\" \"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0\"\n",
				ipText, t.Format("02/Jan/2006:15:04:05 -0700"), path, status, size, ref)
		} else {
			b = fmt.Appendf(b, `{"ts":"%s","ip":"%s","request":{"method":"GET","path":"%s","headers":{"host":"shop.example","user-agent":"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"}},"status":%d,"bytes":%s,"referrer":"%s"}`+"\n",
				t.Format(time.RFC3339Nano), ipText, path, status, strconv.Itoa(size), ref)
		}
		w.Write(b)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "genlog:", err)
		os.Exit(1)
	}
}
