package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Serving the dashboard's pages, and the rules that keep other pages from using them: the
// browser's (what it may load, frame and send) and the server's (whom it answers).

// serveHTTP serves handler on l, with TLS when config is not nil, until ctx ends.
func serveHTTP(ctx context.Context, l net.Listener, handler http.Handler, config *tls.Config) error {
	srv := &http.Server{Handler: handler, TLSConfig: config, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		_ = srv.Close() // the event streams do not end by themselves
	}()
	if config != nil {
		l = tls.NewListener(l, config)
	}
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// assets are the page's script and style sheet.
func assets() http.Handler {
	files, _ := fs.Sub(webFiles, "web")
	return http.StripPrefix("/assets/", http.FileServerFS(files))
}

// sameOrigin refuses every request that does not come from the dashboard's own page: the
// Host must be the dashboard's own address, and a request a browser marks as coming from
// another origin is refused.
func sameOrigin(port int, next http.Handler) http.Handler {
	hosts := map[string]bool{}
	for _, h := range []string{"127.0.0.1", "localhost"} {
		hosts[net.JoinHostPort(h, strconv.Itoa(port))] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The page sends no form, and its requests need no referrer.
		setPageHeaders(w.Header(), "'none'", "no-referrer")
		if !hosts[r.Host] {
			http.Error(w, "this dashboard answers on 127.0.0.1:"+strconv.Itoa(port)+" only, not on "+r.Host, http.StatusMisdirectedRequest)
			return
		}
		if why := fromElsewhere(r, func(origin string) bool { return ownOrigin(origin, hosts) }); why != "" {
			http.Error(w, why, http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// setPageHeaders tells the browser to load nothing from elsewhere, to show the pages in no
// other page's frame, and to send forms to formAction only, with referrer as the policy.
func setPageHeaders(h http.Header, formAction, referrer string) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action "+formAction)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", referrer)
}

// fromElsewhere says why a request is refused as coming from another origin than the
// dashboard's own pages (own says which Origin headers name them), "" when it is not.
func fromElsewhere(r *http.Request, own func(origin string) bool) string {
	if origin := r.Header.Get("Origin"); origin != "" && !own(origin) {
		return "requests from " + origin + " are refused: only the dashboard's own page may use it"
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return "requests from other sites are refused: only the dashboard's own page may use it"
	}
	return ""
}

// ownOrigin reports whether an Origin header names the dashboard's own page.
func ownOrigin(origin string, hosts map[string]bool) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Scheme == "http" && u.Path == "" && hosts[u.Host]
}
