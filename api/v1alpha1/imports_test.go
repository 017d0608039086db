package v1alpha1_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImportsStayALeaf keeps the API package importable by everything: it may use the
// standard library, k8s.io/apimachinery and k8s.io/api, and nothing else.
func TestImportsStayALeaf(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			stdlib := !strings.Contains(strings.SplitN(path, "/", 2)[0], ".")
			assert.True(t, stdlib || strings.HasPrefix(path, "k8s.io/apimachinery/") || strings.HasPrefix(path, "k8s.io/api/"),
				"%s imports %s: the API package may import only the standard library, k8s.io/apimachinery and k8s.io/api", file, path)
		}
	}
}
