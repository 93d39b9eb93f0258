package dynamosink

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/streamtop/streamtop/topk"
)

// A partial's counts are JSON text: an array of {"k": key, "c": count,
// "e": err}, in order, with "e" left out when 0.

// partialEntry is one entry as encoding/json writes it. Key is a pointer
// so that an entry without one is told from the empty key.
type partialEntry struct {
	Key   *string `json:"k"`
	Count int64   `json:"c"`
	Err   int64   `json:"e,omitempty"`
}

func encodePartialCounts(counts []topk.Entry[string]) (string, error) {
	entries := make([]partialEntry, len(counts))
	for i := range counts {
		entries[i] = partialEntry{Key: &counts[i].Key, Count: counts[i].Count, Err: counts[i].Err}
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // URLs stay readable with the AWS CLI
	if err := enc.Encode(entries); err != nil {
		return "", fmt.Errorf("encode counts: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func decodePartialCounts(text string) ([]topk.Entry[string], error) {
	var entries []partialEntry
	if err := json.Unmarshal([]byte(text), &entries); err != nil {
		return nil, err
	}
	counts := make([]topk.Entry[string], len(entries))
	for i, e := range entries {
		if e.Key == nil {
			return nil, errors.New("an entry has no key")
		}
		counts[i] = topk.Entry[string]{Key: *e.Key, Count: e.Count, Err: e.Err}
	}
	return counts, nil
}
