package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// feed runs the command in a synctest bubble on records written to its stdin
// in rounds, a second apart and half a second off the refreshes, and returns what it printed.
func feed(t *testing.T, args []string, rounds ...[]string) (stdout string) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		pr, pw := io.Pipe()
		var out, errOut bytes.Buffer
		done := make(chan int)
		go func() {
			done <- run(t.Context(), args, env{stdin: pr, stdout: &out, stderr: &errOut, now: time.Now})
		}()
		time.Sleep(500 * time.Millisecond) // write between refreshes
		for _, lines := range rounds {
			if _, err := io.WriteString(pw, strings.Join(lines, "\n")+"\n"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
		}
		pw.Close()
		if code := <-done; code != 0 {
			t.Fatalf("run = %d: %s", code, errOut.String())
		}
		stdout = out.String()
	})
	return stdout
}

// -json prints one JSON object per line and per refresh, then one marked done
// at the end of the input; rates and rank changes follow the input.
func TestJSONPerRefresh(t *testing.T) {
	out := feed(t, []string{"-json", "-field", "k", "-refresh", "1s"},
		[]string{`{"k":"a"}`, `{"k":"a"}`, `{"k":"b"}`},
		[]string{`{"k":"b"}`, `{"k":"b"}`, `{"k":"c"}`, `bad`},
		[]string{`{"k":"c"}`},
	)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("%d lines of output, want a report per refresh and a last one:\n%s", len(lines), out)
	}
	var reps []report
	for i, l := range lines {
		var rep report
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rep); err != nil || dec.More() {
			t.Fatalf("line %d is not one JSON object (%v): %s", i+1, err, l)
		}
		reps = append(reps, rep)
	}
	last := reps[len(reps)-1]
	if !last.Done || last.Records != 8 || last.Malformed != 1 {
		t.Errorf("last report: done %v, records %d, malformed %d; want true, 8, 1", last.Done, last.Records, last.Malformed)
	}
	for _, rep := range reps[:len(reps)-1] {
		if rep.Done {
			t.Errorf("report at %v marked done before the end", rep.Time)
		}
	}
	// After the second round b leads, up from second place.
	var second report
	for _, rep := range reps {
		if rep.Records == 7 {
			second = rep
			break
		}
	}
	if top := topRows(second); len(top) < 2 || top[0].Key != "b" || top[0].Change != 1 || top[1].Key != "a" || top[1].Change != -1 {
		t.Errorf("after the second round: %+v; want b up 1, a down 1", top)
	}
	if second.Rate <= 0 {
		t.Errorf("rate %v, want > 0", second.Rate)
	}
}

// Without a terminal, the plain tables come once per refresh, each bounded by
// -n rows.
func TestPlainPerRefresh(t *testing.T) {
	var round []string
	for i := range 50 {
		round = append(round, fmt.Sprint("key", i%25))
	}
	out := feed(t, []string{"-n", "5", "-refresh", "1s"}, round, round)
	if n := strings.Count(out, "RANK"); n < 2 {
		t.Errorf("%d tables, want one per refresh:\n%s", n, out)
	}
	for _, table := range strings.Split(out, "stdin ")[1:] {
		if rows := strings.Count(table, "\n   "); rows > 5 {
			t.Errorf("table of %d rows, want at most -n 5:\n%s", rows, table)
		}
	}
}
