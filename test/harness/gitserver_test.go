package harness

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What the server serves is what a GitOps tool clones: each commit, over smart HTTP.
func TestGitServerServesWhatIsCommitted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	g, err := StartGitServer(ctx)
	require.NoError(t, err)
	url, err := g.Create(ctx, "apps")
	require.NoError(t, err)
	first, err := g.Commit(ctx, "apps", "the app", map[string][]byte{"app/rollout.yaml": []byte("kind: Rollout\n")})
	require.NoError(t, err)
	second, err := g.Commit(ctx, "apps", "a new image", map[string][]byte{"app/rollout.yaml": []byte("kind: Rollout # v2\n")})
	require.NoError(t, err)
	assert.NotEqual(t, first, second)

	clone := filepath.Join(t.TempDir(), "clone")
	out, err := exec.CommandContext(ctx, "git", "clone", "--quiet", url, clone).CombinedOutput()
	require.NoError(t, err, "%s", out)
	content, err := os.ReadFile(filepath.Join(clone, "app", "rollout.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "kind: Rollout # v2\n", string(content))
	head, err := exec.CommandContext(ctx, "git", "-C", clone, "rev-parse", "HEAD").Output()
	require.NoError(t, err)
	assert.Equal(t, second+"\n", string(head))
}
