package analysis_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tranche-dev/tranche/analysis"
)

// FuzzPayload checks that whatever names, messages and metadata a webhook payload carries
// (any bytes, not only what the API allows), its JSON reads back as the same payload, so
// that an endpoint never sees a field that was not sent, or loses one that was.
func FuzzPayload(f *testing.F) {
	f.Add("podinfo", "shop", "Progressing", "abc123", "Rollout", "", "team", "payments")
	f.Add(`"}`, "\xff\xfe", "\u2028", `\`, "Event", "a\nb", `"k"`, "<script>")
	f.Fuzz(func(t *testing.T, name, namespace, phase, revision, kind, message, key, value string) {
		p := analysis.Payload{Name: name, Namespace: namespace, Phase: phase, Revision: revision, Type: kind, Message: message,
			Metadata: map[string]string{key: value}}
		data, err := json.Marshal(p)
		require.NoError(t, err)
		var back analysis.Payload
		require.NoError(t, json.Unmarshal(data, &back))
		// JSON holds UTF-8: invalid bytes become U+FFFD both ways, so compare what was sent.
		var sent analysis.Payload
		require.NoError(t, json.Unmarshal(data, &sent))
		require.Equal(t, sent, back)
		var fields map[string]any
		require.NoError(t, json.Unmarshal(data, &fields))
		require.Len(t, fields, 7, "a payload has exactly its seven fields: %s", data)
	})
}
