package providers_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/providers"
	"github.com/tranche-dev/tranche/providers/conformance"
)

var (
	exact  = conformance.Exact
	prefix = conformance.Prefix
	regex  = conformance.Regex
)

// TestValueRegexReadsBack: what ValueRegex writes, ValueFromRegex reads back exactly, also
// for values that look like the encoding of another comparison.
func TestValueRegexReadsBack(t *testing.T) {
	for _, s := range []trancheapi.StringMatch{
		prefix("user-agent", "Mozilla/5.0 (X11"),
		prefix("v", "2."),
		prefix("v", ""),
		regex("x-v", "^abc.*"), // looks like a prefix
		regex("x-v", "a|b"),
		regex("w", "[0-9]+"),
		regex("x", "(?:a)"), // looks like the group itself
	} {
		encoded, ok := providers.ValueRegex(s)
		assert.True(t, ok, "%+v", s)
		assert.Equal(t, s, providers.ValueFromRegex(s.Name, encoded), "%+v as %s", s, encoded)
	}
	_, ok := providers.ValueRegex(exact("x-canary", "^a.*"))
	assert.False(t, ok, "an exact comparison is written as one")
}

func TestValueFromRegexOfAPersons(t *testing.T) {
	for regex, want := range map[string]trancheapi.StringMatch{
		"^v1\\.":   regex("h", "^v1\\."),   // no ".*": not a prefix Tranche wrote
		"^v1.2.*":  regex("h", "^v1.2.*"),  // the dot is unquoted: not a literal prefix
		"(a)|(b)":  regex("h", "(a)|(b)"),  // no group around it all
		"^a\\.b.*": prefix("h", "a.b"),     // what ValueRegex writes for the prefix a.b
		".*beta.*": regex("h", ".*beta.*"), // anything else, as it stands
	} {
		assert.Equal(t, want, providers.ValueFromRegex("h", regex), regex)
	}
}

// TestCookieRegexReadsBack: what CookieRegex writes, CookieFromRegex reads back exactly.
func TestCookieRegexReadsBack(t *testing.T) {
	for _, c := range []trancheapi.StringMatch{
		exact("tester", "yes"),
		exact("v", "^a.*"), // looks like a regex
		exact("v", "x[^;]*"),
		prefix("a.b", "x[1]"), // metacharacters in the name and the value
		prefix("team", ""),
		regex("group", "(a|b)-[0-9]"),
		regex("group", "a[^;]*"),
	} {
		got, ok := providers.CookieFromRegex(providers.CookieRegex(c))
		assert.True(t, ok, "%+v", c)
		assert.Equal(t, c, got, "%+v as %s", c, providers.CookieRegex(c))
	}
}

func TestCookieFromRegexOfAPersons(t *testing.T) {
	for _, regex := range []string{
		".*tester=yes.*",
		`^(?:.*;)?\s*tester=yes`,                  // no end
		`^(?:.*;)?\s*tester\s*(?:;.*)?$`,          // no value
		`^(?:.*;)?\s*a.b=yes\s*(?:;.*)?$`,         // a name with a metacharacter unquoted
		`^(?:.*;)?\s*tester=a|b\s*(?:;.*)?$`,      // a value with a metacharacter unquoted
		`^(?:.*;)?\s*tester=(?:a|b\s*(?:;.*)?$`,   // a group that does not close
		`^(?:.*;)?\s*tester=y.s[^;]*\s*(?:;.*)?$`, // a prefix with a metacharacter unquoted
	} {
		_, ok := providers.CookieFromRegex(regex)
		assert.False(t, ok, regex)
	}
}

// TestEncodedRegularExpressionsMatch runs the regular expressions the encoding writes, both
// the way Envoy does (the whole value) and the way Traefik does (anywhere in the value, but
// the encoding anchors itself).
func TestEncodedRegularExpressionsMatch(t *testing.T) {
	for _, tc := range []struct {
		regex      string
		value      string
		wantsMatch bool
	}{
		{valueRegex(prefix("h", "v1.")), "v1.2", true},
		{valueRegex(prefix("h", "v1.")), "v1x2", false},
		{valueRegex(prefix("h", "v1.")), "xv1.2", false},
		{valueRegex(regex("h", "a|b")), "b", true},
		{providers.CookieRegex(exact("tester", "yes")), "tester=yes", true},
		{providers.CookieRegex(exact("tester", "yes")), "a=1; tester=yes; b=2", true},
		{providers.CookieRegex(exact("tester", "yes")), "a=1;tester=yes", true},
		{providers.CookieRegex(exact("tester", "yes")), "a=1; tester=yesno", false},
		{providers.CookieRegex(exact("tester", "yes")), "atester=yes", false},
		{providers.CookieRegex(exact("tester", "yes")), "a=tester=yes", false},
		{providers.CookieRegex(prefix("tester", "team-")), "x=1; tester=team-a; y=2", true},
		{providers.CookieRegex(prefix("tester", "team-")), "tester=teams", false},
		{providers.CookieRegex(prefix("tester", "team-")), "tester=team; x=team-a", false},
		{providers.CookieRegex(regex("g", "a|b")), "x=1; g=b", true},
		{providers.CookieRegex(regex("g", "a|b")), "x=1; g=c", false},
	} {
		anywhere := regexp.MustCompile(tc.regex)
		whole := regexp.MustCompile("^(?:" + tc.regex + ")$")
		assert.Equal(t, tc.wantsMatch, anywhere.MatchString(tc.value), "%s against %q", tc.regex, tc.value)
		assert.Equal(t, tc.wantsMatch, whole.MatchString(tc.value), "%s against %q, whole", tc.regex, tc.value)
	}
}

func valueRegex(s trancheapi.StringMatch) string {
	regex, _ := providers.ValueRegex(s)
	return regex
}
