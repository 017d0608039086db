package notify_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/notify"
)

type templates = map[string]trancheapi.MessageTemplate

func TestTemplatesShapeTitleAndText(t *testing.T) {
	spec := templates{
		"Default":  {Title: "[{{ .Cluster }}] {{ .Namespace }}/{{ .Rollout }} {{ .Title }}"},
		"Promoted": {Text: "{{ .Canary }} serves {{ .Weight }}+{{ .Primary }}%; was {{ .Stable }}"},
		"WaitingApproval": {Title: "{{ .Rollout }} needs you", Text: "{{ .Commands.Promote }} or {{ .Commands.Abort }}" +
			"{{ range .Checks }}\n{{ .Metric }}={{ .Value }} ({{ .Threshold }}) {{ .Verdict }}{{ end }}"},
	}
	parsed, err := notify.ParseTemplates(spec)
	require.NoError(t, err)
	for _, tc := range []struct {
		kind          notify.Kind
		title, text   string
		keepsOwnWords bool
	}{
		{kind: notify.Started, title: "[prod-eu] shop/podinfo rollout started", keepsOwnWords: true},
		{kind: notify.Promoted, title: "[prod-eu] shop/podinfo promoted", text: "1a2b3c4d5e serves 0+100%; was 1a2b3c4d5e"},
		{kind: notify.WaitingApproval, title: "podinfo needs you",
			text: "kubectl tranche promote podinfo -n shop or kubectl tranche abort podinfo -n shop\n" +
				"success-rate=99.7 (>= 99) Pass\nlatency-p99=230 (<= 500) Pass"},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			n := notify.Sample(tc.kind)
			n.Cluster = "prod-eu"
			shaped, err := parsed.Apply(n)
			require.NoError(t, err)
			assert.Equal(t, tc.title, shaped.Headline)
			if tc.keepsOwnWords {
				assert.Equal(t, n.Message, shaped.Message, "no template for the text: the controller's words")
			} else {
				assert.Equal(t, tc.text, shaped.Message)
			}
		})
	}
}

func TestBadTemplatesAreNamedAndNeverHalfUsed(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec templates
		want string
	}{
		{"does not parse", templates{"Promoted": {Title: "{{ .Rollout "}}, "templates.Promoted.title: at 1: unclosed action"},
		{"an unknown function", templates{"Default": {Text: "{{ upper .Rollout }}"}}, `templates.Default.text: at 1: function "upper" not defined`},
		{"an unknown field", templates{"RolledBack": {Text: "{{ .Revision }}"}}, "templates.RolledBack.text, for news RolledBack: at 1:3: executing"},
		{"an index out of range", templates{"Stalled": {Text: "{{ index .Checks 5 }}"}}, "templates.Stalled.text, for news Stalled"},
		{"a flood", templates{"Default": {Text: `{{ range .Steps }}{{ range $.Steps }}{{ range $.Steps }}{{ printf "%99999s" "" }}{{ end }}{{ end }}{{ end }}`}}, "writes more than 64 KiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := notify.CheckTemplates(tc.spec)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)

			// What the dispatcher sends: Tranche's own words, and the error to log.
			target := notify.TargetOf(&trancheapi.NotificationProvider{Spec: trancheapi.NotificationProviderSpec{
				Type: trancheapi.NotificationWebhook, Templates: tc.spec}}, "http://hook.test/")
			for _, kind := range notify.Kinds {
				n := notify.Sample(kind)
				body, err := notify.Message(target, n)
				require.NotNil(t, body, "a message is sent whatever the templates")
				var sent struct{ Title, Message string }
				require.NoError(t, json.Unmarshal(body, &sent))
				assert.Equal(t, n.Message, sent.Message, "%s: the controller's own words", kind)
				assert.True(t, strings.HasPrefix(sent.Title, "shop/podinfo "), "%s: Tranche's own title, not %q", kind, sent.Title)
				if err != nil {
					assert.Contains(t, err.Error(), "sent with Tranche's own words where a template failed")
				}
			}
		})
	}
}

func TestNoTemplatesChangeNothing(t *testing.T) {
	require.NoError(t, notify.CheckTemplates(nil))
	target := notify.TargetOf(&trancheapi.NotificationProvider{Spec: trancheapi.NotificationProviderSpec{Type: trancheapi.NotificationSlack}}, "http://hooks.slack.test/")
	for _, kind := range notify.Kinds {
		got, err := notify.Message(target, notify.Sample(kind))
		require.NoError(t, err)
		want, err := notify.Slack(notify.Sample(kind), notify.SlackOptions{})
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(got), "%s: the golden messages hold", kind)
	}
}

// Every message type puts the template's title and text where Tranche's own words go.
func TestEveryMessageTypeCarriesTheShapedWords(t *testing.T) {
	spec := templates{"Default": {Title: "TITLE {{ .Kind }}", Text: "TEXT {{ .Rollout }}"}}
	for _, kind := range []trancheapi.NotificationType{trancheapi.NotificationSlack, trancheapi.NotificationMSTeams, trancheapi.NotificationWebhook} {
		target := notify.TargetOf(&trancheapi.NotificationProvider{Spec: trancheapi.NotificationProviderSpec{Type: kind, Templates: spec}}, "http://x.test/")
		body, err := notify.Message(target, notify.Sample(notify.Promoted))
		require.NoError(t, err)
		assert.Contains(t, string(body), "TITLE Promoted", kind)
		assert.Contains(t, string(body), "TEXT podinfo", kind)
		assert.NotContains(t, string(body), "Promoted revision 1a2b3c4d5e", "%s: the controller's words are replaced", kind)
	}
}
