package providers

import (
	"regexp"
	"strings"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
)

// The encoding of the API's string comparisons as regular expressions, for data planes that
// lack some of them: Gateway API matches only exactly or by regular expression, and neither
// Gateway API nor Istio matches cookies. It is designed to be read back exactly, so that a
// Router's Routes returns the match its SetRoutes was given:
//
//	Prefix            → ^<value quoted>.*
//	RegularExpression → (?:<value>)          (the group tells it from a Prefix)
//	cookie            → on the Cookie header: ^(?:.*;)?\s*<name quoted>=<value>\s*(?:;.*)?$
//	                    where <value> is the value quoted (Exact), quoted then [^;]* (Prefix,
//	                    which must not run into the next cookie), or (?:<value>)
//
// The expressions hold whether the data plane matches them against the whole value (Envoy)
// or anywhere in it (Traefik), and use only syntax RE2, Go and PCRE share. An Exact header or
// query comparison has no encoding: every data plane matches exactly.

// CookieHeader is the request header cookies come in. Data planes compare header names
// without regard to case.
const CookieHeader = "Cookie"

const (
	cookieBefore = `^(?:.*;)?\s*`
	cookieAfter  = `\s*(?:;.*)?$`
	cookieRest   = `[^;]*` // the rest of a cookie value after a prefix
)

// ValueRegex is the regular expression for a Prefix or RegularExpression comparison of a
// header or query value. ok is false for an Exact one, which needs none.
func ValueRegex(s trancheapi.StringMatch) (regex string, ok bool) {
	switch s.Type {
	case trancheapi.MatchPrefix:
		return "^" + regexp.QuoteMeta(s.Value) + ".*", true
	case trancheapi.MatchRegularExpression:
		return group(s.Value), true
	}
	return "", false
}

// ValueFromRegex reads back the comparison of a header or query value that ValueRegex wrote
// as regex. A regular expression it did not write (a person's) is read as a
// RegularExpression as it stands.
func ValueFromRegex(name, regex string) trancheapi.StringMatch {
	if inner, ok := ungroup(regex); ok {
		return trancheapi.StringMatch{Name: name, Value: inner, Type: trancheapi.MatchRegularExpression}
	}
	if quoted, ok := strings.CutPrefix(regex, "^"); ok {
		if quoted, ok = strings.CutSuffix(quoted, ".*"); ok {
			if literal, ok := unquoteMeta(quoted); ok {
				return trancheapi.StringMatch{Name: name, Value: literal, Type: trancheapi.MatchPrefix}
			}
		}
	}
	return trancheapi.StringMatch{Name: name, Value: regex, Type: trancheapi.MatchRegularExpression}
}

// CookieRegex is the regular expression on the Cookie header that matches the requests
// carrying the cookie c.
func CookieRegex(c trancheapi.StringMatch) string {
	value := regexp.QuoteMeta(c.Value)
	switch c.Type {
	case trancheapi.MatchPrefix:
		value += cookieRest
	case trancheapi.MatchRegularExpression:
		value = group(c.Value)
	}
	return cookieBefore + regexp.QuoteMeta(c.Name) + "=" + value + cookieAfter
}

// CookieFromRegex reads back the cookie comparison CookieRegex wrote as regex. ok is false
// for any other regular expression on the Cookie header (a person's), which is a header
// comparison as it stands.
func CookieFromRegex(regex string) (c trancheapi.StringMatch, ok bool) {
	rest, ok := strings.CutPrefix(regex, cookieBefore)
	if !ok {
		return trancheapi.StringMatch{}, false
	}
	if rest, ok = strings.CutSuffix(rest, cookieAfter); !ok {
		return trancheapi.StringMatch{}, false
	}
	// QuoteMeta leaves "=" alone, and a cookie name cannot hold one: the first is the end
	// of the name.
	quotedName, value, ok := strings.Cut(rest, "=")
	name, nameOK := unquoteMeta(quotedName)
	if !ok || !nameOK {
		return trancheapi.StringMatch{}, false
	}
	if inner, ok := ungroup(value); ok {
		return trancheapi.StringMatch{Name: name, Value: inner, Type: trancheapi.MatchRegularExpression}, true
	}
	if quoted, ok := strings.CutSuffix(value, cookieRest); ok {
		if literal, ok := unquoteMeta(quoted); ok {
			return trancheapi.StringMatch{Name: name, Value: literal, Type: trancheapi.MatchPrefix}, true
		}
	}
	if literal, ok := unquoteMeta(value); ok {
		return trancheapi.StringMatch{Name: name, Value: literal, Type: trancheapi.MatchExact}, true
	}
	return trancheapi.StringMatch{}, false
}

func group(regex string) string { return "(?:" + regex + ")" }

func ungroup(regex string) (string, bool) {
	if inner, ok := strings.CutPrefix(regex, "(?:"); ok {
		return strings.CutSuffix(inner, ")")
	}
	return "", false
}

// unquoteMeta inverts regexp.QuoteMeta. It reports false for a string QuoteMeta cannot have
// written, such as one with a metacharacter left unescaped.
func unquoteMeta(quoted string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(quoted); i++ {
		if quoted[i] == '\\' && i+1 < len(quoted) {
			i++
		}
		b.WriteByte(quoted[i])
	}
	literal := b.String()
	return literal, regexp.QuoteMeta(literal) == quoted
}
