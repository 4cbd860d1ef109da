package steps

import (
	"strings"
	"testing"
)

// TestScoreDocs: the verdicts go back to their documents in order; an answer with the wrong
// number of verdicts (a Classifier that dropped or added some) fails the batch instead of
// scoring the wrong documents.
func TestScoreDocs(t *testing.T) {
	docs := []Doc{{ID: "a", Text: "x"}, {ID: "b", Text: "y"}}
	got, err := scoreDocs(docs, []TextScore{{Score: 0.25}, {Score: 0.75, Heuristic: true}})
	if err != nil || len(got) != 2 || got[0].ID != "a" || got[0].Score != 0.25 || got[1].ID != "b" || !got[1].Heuristic {
		t.Fatalf("scoreDocs: %+v, %v", got, err)
	}
	for _, bad := range [][]TextScore{nil, {{Score: 1}}, {{}, {}, {}}} {
		if _, err := scoreDocs(docs, bad); err == nil || !strings.Contains(err.Error(), "for 2 documents") {
			t.Errorf("%d verdicts for 2 documents: %v, want an error", len(bad), err)
		}
	}
	if texts := docTexts(docs); len(texts) != 2 || texts[1] != "y" {
		t.Fatalf("docTexts: %q", texts)
	}
}
