package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	trancheapi "github.com/tranche-dev/tranche/api/v1alpha1"
	"github.com/tranche-dev/tranche/cli"
	"github.com/tranche-dev/tranche/test/harness"
)

// A dashboard served to a team acts as each person: they see the Rollouts of the namespaces
// they may read and press what they may patch, and it makes no request under its own name.

// teamUsers are a team's namespace with a Rollout waiting at a manual gate, a namespace of
// another team with a Rollout, and two ServiceAccounts of the first: alice, who may read and
// patch its Rollouts, and bob, who may only read them.
type teamUsers struct {
	ours, theirs types.NamespacedName
	alice, bob   string // usernames
	tokens       map[string]string
}

func setUpTeam(t *testing.T) teamUsers {
	t.Helper()
	ctx := context.Background()
	gate := func(spec *trancheapi.RolloutSpec) {
		spec.Steps = []trancheapi.Step{step(50, 0, true), step(100, 0, false)}
	}
	u := teamUsers{ours: deployWith(t, cp.Namespace(t), gate), theirs: deployWith(t, cp.Namespace(t), gate), tokens: map[string]string{}}
	ns := u.ours.Namespace
	read := []rbacv1.PolicyRule{
		{APIGroups: []string{trancheapi.GroupVersion.Group}, Resources: []string{"rollouts"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get"}},
	}
	for name, rules := range map[string][]rbacv1.PolicyRule{
		"alice": append(read, rbacv1.PolicyRule{APIGroups: []string{trancheapi.GroupVersion.Group}, Resources: []string{"rollouts"}, Verbs: []string{"patch"}}),
		"bob":   read,
	} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		require.NoError(t, cp.Client.Create(ctx, sa))
		require.NoError(t, cp.Client.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: rules}))
		require.NoError(t, cp.Client.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}},
		}))
		request := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}
		require.NoError(t, cp.Client.SubResource("token").Create(ctx, sa, request))
		u.tokens[name] = request.Status.Token
	}
	u.alice, u.bob = "system:serviceaccount:"+ns+":alice", "system:serviceaccount:"+ns+":bob"
	release(t, u.ours, "app:2")
	waitFor(t, u.ours, "the gate", inPhase(trancheapi.PhaseWaitingApproval))
	return u
}

// startTeam serves a dashboard to a team until the test ends and returns its address.
func startTeam(t *testing.T, opts cli.TeamOptions) string {
	t.Helper()
	team, err := cli.NewTeam(opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- team.Serve(ctx, l, nil) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-served)
	})
	return "http://" + l.Addr().String() + "/"
}

// dashboardRequests are the requests the API server's audit log shows from the dashboard
// whose user agent is agent.
func dashboardRequests(t *testing.T, agent string) []harness.AuditEvent {
	t.Helper()
	events, err := cp.Audit(agent)
	require.NoError(t, err)
	return events
}

// withAgent is cfg with a user agent of the test's own, to find its dashboard's requests by.
func withAgent(t *testing.T, cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = cli.DashboardUserAgent + "/" + t.Name()
	return cfg
}

// TestATeamsDashboardActsAsWhoeverSignedIn: in headless Chromium, bob signs in with his token
// and sees his team's Rollout and not the other team's, and his promote is refused saying
// why; he signs out, alice signs in and her promote passes the gate. The dashboard is given
// the cluster's admin credentials, and the API server's audit log shows that it never used
// them: every request it made carried bob's or alice's token.
func TestATeamsDashboardActsAsWhoeverSignedIn(t *testing.T) {
	t.Parallel()
	u := setUpTeam(t)
	config := withAgent(t, cp.Config)
	url := startTeam(t, cli.TeamOptions{Config: config, Auth: cli.AuthToken, Namespaces: []string{u.ours.Namespace, u.theirs.Namespace}})
	tab := browser(t)
	row := func(key types.NamespacedName) string {
		return fmt.Sprintf(`tr[data-rollout="%s/%s"]`, key.Namespace, key.Name)
	}
	signIn := func(token, then string) {
		t.Helper()
		run(t, tab, "opening the dashboard", chromedp.Navigate(url), chromedp.WaitVisible(css("#token")))
		run(t, tab, "signing in", chromedp.SendKeys(css("#token"), token), chromedp.Click(css("#signin")), chromedp.WaitVisible(css(then)))
	}

	signIn("not-a-token", "#signin-error")
	waitText(t, tab, "the sign-in page's answer", "#signin-error", contains("does not accept this token"))

	signIn(u.tokens["bob"], "#main")
	waitText(t, tab, "whom the page acts as", "#user", contains(u.bob))
	waitText(t, tab, "what bob may read", "#scope", contains("namespace "+u.ours.Namespace))
	run(t, tab, "bob's list", chromedp.WaitVisible(css(row(u.ours))))
	assert.Equal(t, 1, eval[int](t, tab, "counting the rows", `document.querySelectorAll("#rollouts tbody tr").length`), "only his team's Rollout")
	assert.Equal(t, http.StatusNotFound, fetchStatus(t, tab, fmt.Sprintf("%sapi/rollouts/%s/%s", url, u.theirs.Namespace, u.theirs.Name), `{}`),
		"the other team's Rollout is not his to read")

	run(t, tab, "opening the Rollout", chromedp.Navigate(fmt.Sprintf("%s#/%s/%s", url, u.ours.Namespace, u.ours.Name)), chromedp.WaitVisible(css(`button[data-action="promote"]`)))
	waitText(t, tab, "the gate", "#phase", contains("WaitingApproval"))
	run(t, tab, "pressing promote as bob", chromedp.Click(css(`button[data-action="promote"]`)))
	waitText(t, tab, "the refusal", "#notice", contains("Refused: "+u.bob+" may not promote rollout "+u.ours.String()))
	waitText(t, tab, "why", "#notice", contains(`cannot patch resource "rollouts"`))
	assert.Equal(t, trancheapi.PhaseWaitingApproval, getRollout(t, u.ours).Status.Phase, "bob's promote changed nothing")

	run(t, tab, "signing out", chromedp.Click(css("#sign-out")), chromedp.WaitVisible(css("#token")))
	signIn(u.tokens["alice"], "#main")
	waitText(t, tab, "whom the page acts as", "#user", contains(u.alice))
	run(t, tab, "opening the Rollout", chromedp.Navigate(fmt.Sprintf("%s#/%s/%s", url, u.ours.Namespace, u.ours.Name)), chromedp.WaitVisible(css(`button[data-action="promote"]`)))
	run(t, tab, "pressing promote as alice", chromedp.Click(css(`button[data-action="promote"]`)))
	waitText(t, tab, "the promotion", "#phase", contains("Succeeded"))

	requests := dashboardRequests(t, config.UserAgent)
	require.NotEmpty(t, requests)
	users := map[string]int{}
	for _, e := range requests {
		assert.Nil(t, e.ImpersonatedUser, "%s impersonated", e)
		if e.User.Username == "" { // the token that was not one: the API server knew nobody
			assert.Equal(t, http.StatusUnauthorized, e.ResponseStatus.Code, "%s", e)
			continue
		}
		users[e.User.Username]++
	}
	assert.Equal(t, []string{u.alice, u.bob}, slices.Sorted(maps.Keys(users)), "the users the dashboard's requests were made as: %v", users)
}

// TestATeamsDashboardBehindAProxyImpersonatesItsUser: behind an authenticating proxy that
// names bob in X-Forwarded-User, the dashboard shows bob his team's Rollouts alone and refuses
// his promote; every request it made impersonated bob, with its own credentials that may do
// nothing but impersonate.
func TestATeamsDashboardBehindAProxyImpersonatesItsUser(t *testing.T) {
	t.Parallel()
	u := setUpTeam(t)
	ns := u.ours.Namespace
	own := impersonator(t, ns)
	dashboard := startTeam(t, cli.TeamOptions{Config: own, Auth: cli.AuthProxy, UserHeader: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups",
		Namespaces: []string{u.ours.Namespace, u.theirs.Namespace}})
	base := startProxy(t, dashboard, u.bob, "system:serviceaccounts,system:serviceaccounts:"+ns+",system:authenticated")

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	code, page := get("")
	require.Equal(t, http.StatusOK, code, page)
	assert.Contains(t, page, `<meta name="tranche-user" content="`+u.bob+`">`)
	var rows []cli.Row
	require.Eventually(t, func() bool {
		code, body := get("api/rollouts")
		return code == http.StatusOK && json.Unmarshal([]byte(body), &rows) == nil && len(rows) > 0
	}, 30*time.Second, 100*time.Millisecond, "bob's list")
	require.Len(t, rows, 1, "only his team's Rollout: %v", rows)
	assert.Equal(t, u.ours.Name, rows[0].Name)
	assert.Equal(t, u.ours.Namespace, rows[0].Namespace)

	token := regexp.MustCompile(`<meta name="tranche-token" content="([0-9a-f]+)">`).FindStringSubmatch(page)
	require.Len(t, token, 2)
	press, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%sapi/rollouts/%s/%s/promote", base, u.ours.Namespace, u.ours.Name), nil)
	require.NoError(t, err)
	press.Header.Set("X-Tranche-Token", token[1])
	resp, err := http.DefaultClient.Do(press)
	require.NoError(t, err)
	said, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, string(said), "Refused: "+u.bob+" may not promote rollout "+u.ours.String())
	assert.Equal(t, trancheapi.PhaseWaitingApproval, getRollout(t, u.ours).Status.Phase)

	// Kubernetes' own users and groups are not the dashboard's to act as, whatever the proxy
	// says: its right to impersonate would make anyone who reaches it cluster-admin.
	for header, value := range map[string]string{"X-Forwarded-Groups": "system:masters", "X-Forwarded-User": "system:kube-controller-manager"} {
		req, err := http.NewRequest(http.MethodGet, dashboard+"api/rollouts", nil)
		require.NoError(t, err)
		req.Header.Set("X-Forwarded-User", u.bob)
		req.Header.Set(header, value)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		said, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s: %s", value, said)
		assert.Contains(t, string(said), "does not act as", value)
	}

	// Without the proxy, nobody.
	resp, err = http.Get(dashboard + "api/rollouts")
	require.NoError(t, err)
	said, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Contains(t, string(said), "names no user in X-Forwarded-User")

	requests := dashboardRequests(t, own.UserAgent)
	require.NotEmpty(t, requests)
	for _, e := range requests {
		if assert.NotNil(t, e.ImpersonatedUser, "%s was made as the dashboard itself", e) {
			assert.Equal(t, u.bob, e.ImpersonatedUser.Username, "%s", e)
		}
		assert.Equal(t, "system:serviceaccount:"+ns+":dashboard", e.User.Username, "%s", e)
	}
}

// impersonator is the credentials of a dashboard ServiceAccount of namespace ns that may
// impersonate users, groups and ServiceAccounts, and nothing else, with a user agent of the
// test's own.
func impersonator(t *testing.T, ns string) *rest.Config {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dashboard"}}
	require.NoError(t, cp.Client.Create(ctx, sa))
	name := "tranche-dashboard-" + ns
	require.NoError(t, cp.Client.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"users", "groups", "serviceaccounts"}, Verbs: []string{"impersonate"}},
	}}))
	require.NoError(t, cp.Client.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "dashboard"}},
	}))
	t.Cleanup(func() {
		_ = cp.Client.Delete(context.Background(), &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}})
		_ = cp.Client.Delete(context.Background(), &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}})
	})
	request := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}
	require.NoError(t, cp.Client.SubResource("token").Create(ctx, sa, request))
	own := withAgent(t, rest.AnonymousClientConfig(cp.Config))
	own.BearerToken = request.Status.Token
	return own
}

// startProxy serves, until the test ends, a proxy in front of the dashboard at target that
// names user and groups as oauth2-proxy would once the person signed in with the company's
// identity provider; it returns the proxy's address.
func startProxy(t *testing.T, target, user, groups string) string {
	t.Helper()
	to, err := url.Parse(target)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(to)
	direct := proxy.Director
	proxy.Director = func(r *http.Request) {
		direct(r)
		r.Header.Set("X-Forwarded-User", user)
		r.Header.Set("X-Forwarded-Groups", groups)
	}
	front := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = front.Serve(l) }()
	t.Cleanup(func() { _ = front.Close() })
	return "http://" + l.Addr().String() + "/"
}

// TestATeamsReadOnlyDashboardRefusesEvenTheWriters: read-only stays a switch in a team's
// dashboard: alice, whose RBAC lets her promote, is shown the page and refused the press.
func TestATeamsReadOnlyDashboardRefusesEvenTheWriters(t *testing.T) {
	t.Parallel()
	u := setUpTeam(t)
	own := impersonator(t, u.ours.Namespace)
	dashboard := startTeam(t, cli.TeamOptions{Config: own, Auth: cli.AuthProxy, UserHeader: "X-Forwarded-User", GroupsHeader: "X-Forwarded-Groups",
		Namespaces: []string{u.ours.Namespace}, ReadOnly: true})
	base := startProxy(t, dashboard, u.alice, "system:serviceaccounts,system:serviceaccounts:"+u.ours.Namespace+",system:authenticated")

	resp, err := http.Get(base)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(page))
	token := regexp.MustCompile(`<meta name="tranche-token" content="([0-9a-f]+)">`).FindStringSubmatch(string(page))
	require.Len(t, token, 2)
	press, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%sapi/rollouts/%s/%s/promote", base, u.ours.Namespace, u.ours.Name), nil)
	require.NoError(t, err)
	press.Header.Set("X-Tranche-Token", token[1])
	resp, err = http.DefaultClient.Do(press)
	require.NoError(t, err)
	said, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, string(said))
	ro := getRollout(t, u.ours)
	assert.NotContains(t, ro.Annotations, trancheapi.AnnotationPromote, "no request was written")
	assert.Equal(t, trancheapi.PhaseWaitingApproval, ro.Status.Phase)
}

// With an authenticating proxy in front, whoever reaches the dashboard names the user: it
// listens on the loopback interface only, for the proxy beside it.
func TestATeamsDashboardBehindAProxyListensOnLoopbackOnly(t *testing.T) {
	team, err := cli.NewTeam(cli.TeamOptions{Config: cp.Config, Auth: cli.AuthProxy, UserHeader: "X-Forwarded-User"})
	require.NoError(t, err)
	l, err := net.Listen("tcp", "0.0.0.0:0")
	require.NoError(t, err)
	defer l.Close()
	err = team.Serve(context.Background(), l, nil)
	assert.ErrorContains(t, err, "listens on the loopback interface only")

	_, err = cli.NewTeam(cli.TeamOptions{Config: cp.Config, Auth: cli.AuthProxy})
	assert.ErrorContains(t, err, "--user-header")
	_, err = cli.NewTeam(cli.TeamOptions{Config: cp.Config, Auth: "basic"})
	assert.ErrorContains(t, err, `unknown --auth "basic"`)
}

// kubectl tranche dashboard --serve serves the dashboard to a team: the page asks for a token
// first; with --auth=proxy it refuses to listen beyond the loopback interface.
func TestDashboardServeCommand(t *testing.T) {
	t.Parallel()
	address, err := harness.FreeAddress()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	cmd := cli.NewCommand(genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &out, ErrOut: &out})
	cmd.SetArgs([]string{"dashboard", "--serve", address, "--namespaces", "a,b", "--kubeconfig=" + kubeconfig})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done, out.String())
	})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var resp *http.Response
	require.Eventually(t, func() bool {
		resp, err = noRedirect.Get("http://" + address + "/")
		return err == nil
	}, 10*time.Second, 50*time.Millisecond, "the dashboard answers")
	resp.Body.Close()
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/signin", resp.Header.Get("Location"))
	resp, err = http.Get("http://" + address + "/signin")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(page), `<form class="signin" method="post" action="/signin">`)

	_, err = kubectl(t, "default", "dashboard", "--serve", "0.0.0.0:0", "--auth", "proxy")
	assert.ErrorContains(t, err, "listens on the loopback interface only")
}

// signedIn is an HTTP client signed in to a team's dashboard at base with token, and the
// page's token its actions carry.
func signedIn(t *testing.T, base, token string) (*http.Client, string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(base+"signin", url.Values{"token": {token}})
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "signed in and sent to the page: %s", page)
	pageToken := regexp.MustCompile(`<meta name="tranche-token" content="([0-9a-f]+)">`).FindStringSubmatch(string(page))
	require.Len(t, pageToken, 2, "the page: %s", page)
	return c, pageToken[1]
}

// A session lasts while a page's event stream is open, however long no other request comes,
// and its streams end with it: signed out, no request goes out with the person's token.
func TestATeamsSessionLastsWhileItsPageIsOpenAndEndsItsStreams(t *testing.T) {
	t.Parallel()
	u := setUpTeam(t)
	base := startTeam(t, cli.TeamOptions{Config: cp.Config, Auth: cli.AuthToken, Namespaces: []string{u.ours.Namespace}, SessionIdle: time.Second})
	c, pageToken := signedIn(t, base, u.tokens["alice"])
	status := func(client *http.Client) int {
		t.Helper()
		resp, err := client.Get(base + "api/rollouts")
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	openStream := func() (*http.Response, *bufio.Reader) {
		t.Helper()
		resp, err := c.Get(base + "api/stream")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		lines := bufio.NewReader(resp.Body)
		line, err := lines.ReadString('\n')
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(line, "event: "), "the stream's first line: %q", line)
		return resp, lines
	}

	stream, _ := openStream()
	time.Sleep(3 * time.Second) // three times the idle limit, with only the stream open
	assert.Equal(t, http.StatusOK, status(c), "an open page keeps its session")
	stream.Body.Close()
	time.Sleep(3 * time.Second)
	assert.Equal(t, http.StatusUnauthorized, status(c), "a session unused for its idle limit ends")

	c, pageToken = signedIn(t, base, u.tokens["alice"])
	stream, lines := openStream()
	defer stream.Body.Close()
	signOut, err := http.NewRequest(http.MethodPost, base+"signout", nil)
	require.NoError(t, err)
	signOut.Header.Set("X-Tranche-Token", pageToken)
	resp, err := c.Do(signOut)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, lines)
		ended <- err
	}()
	select {
	case err := <-ended:
		assert.NoError(t, err, "the stream ended as a stream ends")
	case <-time.After(10 * time.Second):
		t.Fatal("the page's event stream outlived its session")
	}
}

// An API server the dashboard cannot reach is not taken for one that refused the token.
func TestATeamsDashboardTellsAnUnreachableAPIServerFromARefusal(t *testing.T) {
	t.Parallel()
	address, err := harness.FreeAddress()
	require.NoError(t, err)
	nowhere := rest.CopyConfig(cp.Config)
	nowhere.Host = "https://" + address
	base := startTeam(t, cli.TeamOptions{Config: nowhere, Auth: cli.AuthToken})
	resp, err := http.PostForm(base+"signin", url.Values{"token": {"some-token"}})
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	assert.Contains(t, string(page), "could not ask the API server whom the token belongs to")
}
