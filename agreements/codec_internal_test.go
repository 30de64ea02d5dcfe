package agreements

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzDecodeYAML: the bounded decoder never panics, lists at most
// MaxProblems problems (and one more saying the list was cut), each short,
// and the parser never builds more than two values per indicator counted
// before parsing, the bound that keeps the parse tree small.
func FuzzDecodeYAML(f *testing.F) {
	for _, s := range []string{
		"id: x\nflows: [{from: [a], to: [b]}]\n",
		"a: &a [x, x]\nb: [*a, *a]\n",
		"{a}", "[,]", "? a\n? b\n", "- - - x\n", "a: !!python/object x\n",
		"<<: {a: 1}\n", "- |\n  text\n", "'a': \"b\"\n", "[[[]]]", "{? a, b: c}",
		"--- a\n...\n", "a: b: c", "&a a: *a\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var n yaml.Node
		if err := yaml.Unmarshal(doc, &n); err == nil {
			if got, bound := countNodes(&n, map[*yaml.Node]bool{}), 2*indicators(doc)+2; got > bound {
				t.Fatalf("%d values from %d indicators: the pre-parse bound does not hold", got, indicators(doc))
			}
		}
		for _, isJSON := range []bool{false, true} {
			var a Agreement
			err := decodeDocument(doc, isJSON, &a)
			if err == nil {
				continue
			}
			if len(err.Error()) > (MaxProblems+1)*1024 {
				t.Fatalf("problems of %d bytes", len(err.Error()))
			}
		}
	})
}

// countNodes counts the values a parse built, each once.
func countNodes(n *yaml.Node, seen map[*yaml.Node]bool) int {
	if n == nil || seen[n] {
		return 0
	}
	seen[n] = true
	c := 0
	if n.Kind != yaml.DocumentNode {
		c = 1
	}
	for _, k := range n.Content {
		c += countNodes(k, seen)
	}
	return c
}
