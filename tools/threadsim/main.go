// Command threadsim is a Threads simulator for local runs and browser tests:
// on one address it serves the Graph API of threadstest (OAuth token
// endpoints and publishing, with their request checks), the OAuth authorize
// page (a consent form: log in as any simulated account, Allow or Deny), a
// feed of every simulated account's published posts (HTML and JSON), and
// the accounts' avatars. It is a development tool, never deployed.
//
// Point the functions at it with
//
//	THREADS_GRAPH_URL=http://127.0.0.1:8090
//	THREADS_AUTHORIZE_URL=http://127.0.0.1:8090/oauth/authorize
//	THREADS_APP_ID=sim-app-id THREADS_APP_SECRET=sim-app-secret
//	THREADS_REDIRECT_URI=http://127.0.0.1:8081/thAuthCallback
//
// Configuration comes from the environment (THREADSIM_*), each variable
// with a flag as an alternative; a variable that is set and not empty wins
// over its flag. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults of the configuration.
const (
	defaultAddr            = "127.0.0.1:8090"
	defaultAppID           = "sim-app-id"
	defaultAppSecret       = "sim-app-secret"
	defaultRedirectURI     = "http://127.0.0.1:8081/thAuthCallback"
	defaultProcessingPolls = 2
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// after SIGINT or SIGTERM.
const shutdownTimeout = 10 * time.Second

// config is the simulator's configuration.
type config struct {
	// Addr is the address to listen on (host:port).
	Addr string
	// AppID, AppSecret and RedirectURI are the simulated Threads app's.
	AppID, AppSecret, RedirectURI string
	// ProcessingPolls is how many status reads an IMAGE or VIDEO container
	// reports IN_PROGRESS before it is FINISHED.
	ProcessingPolls int
	// Latency delays every Graph API answer.
	Latency time.Duration
	// Log receives one line per request; nil discards them.
	Log io.Writer
	// DeauthorizeURL and DataDeletionURL are the app's Meta callbacks
	// (thDeauthorize, thDataDeletion); when set, the feed page offers to
	// send them a signed request for an account, as Meta would.
	DeauthorizeURL, DataDeletionURL string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "threadsim:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
}

// run serves the simulator until ctx is done, then shuts it down
// gracefully. args are the command-line arguments (without the program
// name), env reads the environment; the ready line and the request log go
// to stderr.
func run(ctx context.Context, args []string, env func(string) string, stderr io.Writer) error {
	stderr = &lockedWriter{w: stderr}
	cfg, err := parseConfig(args, env, stderr)
	if err != nil {
		return err
	}
	cfg.Log = stderr
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newServer(cfg),
		ReadHeaderTimeout: 10 * time.Second,
	}
	// Ready once listening: connections wait in the backlog until Serve.
	fmt.Fprintf(stderr, "threadsim listening on http://%s\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "threadsim shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// parseConfig reads the flags and the environment; a non-empty variable
// wins over its flag. It checks every value and reports every problem at
// once.
func parseConfig(args []string, env func(string) string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("threadsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", defaultAddr, "address to listen on (env THREADSIM_ADDR)")
	appID := fs.String("app-id", defaultAppID, "the simulated Threads app id (env THREADSIM_APP_ID)")
	appSecret := fs.String("app-secret", defaultAppSecret, "the simulated Threads app secret (env THREADSIM_APP_SECRET)")
	redirectURI := fs.String("redirect-uri", defaultRedirectURI, "the app's registered redirect URI (env THREADSIM_REDIRECT_URI)")
	polls := fs.String("processing-polls", strconv.Itoa(defaultProcessingPolls), "status reads an IMAGE or VIDEO container stays IN_PROGRESS (env THREADSIM_PROCESSING_POLLS)")
	latency := fs.String("latency", "0s", "delay of every Graph API answer, a Go duration (env THREADSIM_LATENCY)")
	deauthURL := fs.String("deauthorize-url", "", "the app's uninstall callback, thDeauthorize (env THREADSIM_DEAUTHORIZE_URL)")
	deletionURL := fs.String("data-deletion-url", "", "the app's data-deletion callback, thDataDeletion (env THREADSIM_DATA_DELETION_URL)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	var problems []string
	pick := func(flagValue *string, name string) string {
		if v := env(name); v != "" {
			return v
		}
		return *flagValue
	}
	cfg := config{
		Addr:            pick(addr, "THREADSIM_ADDR"),
		AppID:           pick(appID, "THREADSIM_APP_ID"),
		AppSecret:       pick(appSecret, "THREADSIM_APP_SECRET"),
		RedirectURI:     pick(redirectURI, "THREADSIM_REDIRECT_URI"),
		DeauthorizeURL:  pick(deauthURL, "THREADSIM_DEAUTHORIZE_URL"),
		DataDeletionURL: pick(deletionURL, "THREADSIM_DATA_DELETION_URL"),
	}
	for _, c := range []struct{ name, value string }{{"THREADSIM_DEAUTHORIZE_URL", cfg.DeauthorizeURL}, {"THREADSIM_DATA_DELETION_URL", cfg.DataDeletionURL}} {
		if c.value == "" {
			continue
		}
		if u, err := url.Parse(c.value); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("%s %q is not an absolute http(s) URL", c.name, c.value))
		}
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		problems = append(problems, fmt.Sprintf("THREADSIM_ADDR/-addr %q is not host:port", cfg.Addr))
	}
	if strings.TrimSpace(cfg.AppID) == "" {
		problems = append(problems, "THREADSIM_APP_ID/-app-id is empty")
	}
	if strings.TrimSpace(cfg.AppSecret) == "" {
		problems = append(problems, "THREADSIM_APP_SECRET/-app-secret is empty")
	}
	if u, err := url.Parse(cfg.RedirectURI); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		problems = append(problems, fmt.Sprintf("THREADSIM_REDIRECT_URI/-redirect-uri %q is not an absolute http(s) URL without fragment", cfg.RedirectURI))
	}
	if n, err := strconv.Atoi(pick(polls, "THREADSIM_PROCESSING_POLLS")); err != nil || n < 0 {
		problems = append(problems, fmt.Sprintf("THREADSIM_PROCESSING_POLLS/-processing-polls %q is not a whole number ≥ 0", pick(polls, "THREADSIM_PROCESSING_POLLS")))
	} else {
		cfg.ProcessingPolls = n
	}
	if d, err := time.ParseDuration(pick(latency, "THREADSIM_LATENCY")); err != nil || d < 0 {
		problems = append(problems, fmt.Sprintf("THREADSIM_LATENCY/-latency %q is not a Go duration ≥ 0 (such as 250ms)", pick(latency, "THREADSIM_LATENCY")))
	} else {
		cfg.Latency = d
	}
	if len(problems) > 0 {
		return config{}, errors.New("invalid configuration: " + strings.Join(problems, "; "))
	}
	return cfg, nil
}
