package config

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The YAML in docs/config.md is valid: the complete example, and the
// per-section snippets put together into one file.
func TestDocsExamplesParse(t *testing.T) {
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatalf("docs/config.md: %v", err)
	}
	text := string(doc)
	i := strings.Index(text, "## A complete example")
	if i < 0 {
		t.Fatal("docs/config.md has no complete example")
	}
	block := regexp.MustCompile("(?s)```yaml\n(.*?)```")
	var snippets strings.Builder
	for _, m := range block.FindAllStringSubmatch(text[:i], -1) {
		snippets.WriteString(m[1])
	}
	full := block.FindStringSubmatch(text[i:])
	if full == nil {
		t.Fatal("no yaml block in the complete example")
	}
	for name, y := range map[string]string{"snippets": snippets.String(), "complete example": full[1]} {
		if _, err := Parse("docs.yaml", []byte(y), testOpts); err != nil {
			t.Errorf("%s in docs/config.md: %v", name, err)
		}
	}
}
