package main

import (
	"flag"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spf13/cobra/doc"
	"github.com/stretchr/testify/require"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/ from the command tree (make docs)")

// docsDir is the generated command reference, from this package's folder.
var docsDir = filepath.Join("..", "..", "docs")

// TestDocsUpToDate fails when docs/ is not what the command tree generates:
// run `make docs` after changing a command, a flag or a help text.
func TestDocsUpToDate(t *testing.T) {
	want := t.TempDir()
	root := newRootCmd(&env{stdout: io.Discard, stderr: io.Discard})
	require.NoError(t, doc.GenMarkdownTree(root, want))
	generated := readDocs(t, want)
	require.Contains(t, generated, "deltalog_rebuild.md")
	require.Contains(t, generated, "deltalog_completion_bash.md")

	if *updateDocs {
		require.NoError(t, os.MkdirAll(docsDir, 0o755))
		for name := range readDocs(t, docsDir) {
			require.NoError(t, os.Remove(filepath.Join(docsDir, name)))
		}
		for name, text := range generated {
			require.NoError(t, os.WriteFile(filepath.Join(docsDir, name), []byte(text), 0o644))
		}
	}
	have := readDocs(t, docsDir)
	require.ElementsMatch(t, slices.Collect(maps.Keys(generated)), slices.Collect(maps.Keys(have)),
		"docs/ is stale: run `make docs`")
	for name, text := range generated {
		require.Equal(t, text, have[name], "docs/%s is stale: run `make docs`", name)
	}
}

// readDocs returns the Markdown files in dir by name.
func readDocs(t *testing.T, dir string) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.md"))
	require.NoError(t, err)
	docs := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		docs[filepath.Base(p)] = string(b)
	}
	return docs
}
