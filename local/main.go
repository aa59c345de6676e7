// Command local serves every function of the bundle in one process, each at
// /<name> (/thAuthStart, /thAuthCallback, /thPublish), on $PORT (default
// 8081), as the Functions Framework does when FUNCTION_TARGET is unset.
//
// Configuration comes from the environment exactly as in production; point
// FIRESTORE_EMULATOR_HOST and FIREBASE_AUTH_EMULATOR_HOST at the emulators.
//
// When TASKS_EMULATOR_HOST is set, the runner also serves the Cloud Tasks
// stand-in on that (loopback) address: it receives CreateTask from the real
// client over gRPC and really delivers each task over HTTP, with retries and
// backoff and an OIDC token it signs. thPublish checks that token against
// the stand-in's keys (http://TASKS_EMULATOR_HOST/.well-known/jwks.json),
// exactly as it checks Google's in production, where TASKS_EMULATOR_HOST is
// never set. The runner then also stands in for Cloud Scheduler's sweep job:
// every LOCAL_SWEEP_INTERVAL (a Go duration, default 1m; 0 turns it off) it
// calls thPublish's sweep (POST TASKS_TARGET_URL?sweep=1) with a token the
// stand-in signs for TASKS_SERVICE_ACCOUNT, as the job does in production.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"threadsfunctions.dev/shared/fakes/cloudtasksfake"
	"threadsfunctions.dev/shared/logging"

	// Each function registers itself in init().
	_ "threadsfunctions.dev/functions/thauthcallback"
	_ "threadsfunctions.dev/functions/thauthstart"
	_ "threadsfunctions.dev/functions/thdatadeletion"
	_ "threadsfunctions.dev/functions/thdeauthorize"
	_ "threadsfunctions.dev/functions/thdisconnect"
	_ "threadsfunctions.dev/functions/thpublish"
	_ "threadsfunctions.dev/functions/threfresh"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

func run() error {
	if t := os.Getenv("FUNCTION_TARGET"); t != "" {
		return fmt.Errorf("FUNCTION_TARGET=%s is set: unset it to serve every function at /<name>", t)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8081"
	}
	hostname := os.Getenv("HOST")
	if hostname == "" {
		hostname = "127.0.0.1"
	}
	if addr := os.Getenv("TASKS_EMULATOR_HOST"); addr != "" {
		tasks, stop, err := startTasksStandIn(addr)
		if err != nil {
			return err
		}
		defer stop()
		every := time.Minute
		if v := os.Getenv("LOCAL_SWEEP_INTERVAL"); v != "" {
			if every, err = time.ParseDuration(v); err != nil || every < 0 {
				return fmt.Errorf("LOCAL_SWEEP_INTERVAL=%q: want a duration such as 1m, or 0 for none", v)
			}
		}
		if every > 0 {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go sweepEvery(ctx, every, tasks, os.Getenv("TASKS_TARGET_URL"), os.Getenv("TASKS_SERVICE_ACCOUNT"))
		}
	}
	fmt.Fprintf(os.Stderr, "serving functions on http://%s:%s/\n", hostname, port)
	return funcframework.StartHostPort(hostname, port)
}

// startTasksStandIn serves the Cloud Tasks stand-in on addr, which must be
// a loopback address: it signs tokens thPublish accepts.
func startTasksStandIn(addr string) (*cloudtasksfake.Server, func(), error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("TASKS_EMULATOR_HOST=%s: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, nil, errors.New("TASKS_EMULATOR_HOST must be a loopback address (127.0.0.1:PORT): the stand-in is for local runs only")
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("Cloud Tasks stand-in: %w", err)
	}
	log := logging.New(os.Stdout, slog.LevelInfo).With("component", "cloud-tasks-stand-in")
	srv, stop := cloudtasksfake.StartListener(lis,
		cloudtasksfake.WithDelivery(cloudtasksfake.DeliveryConfig{MaxAttempts: 10, MinBackoff: time.Second, MaxBackoff: time.Minute}),
		cloudtasksfake.WithLogger(log))
	fmt.Fprintf(os.Stderr, "Cloud Tasks stand-in on %s\n", addr)
	return srv, stop, nil
}

// sweepEvery calls thPublish's sweep at target every interval until ctx
// ends, as production's Cloud Scheduler job does: POST ?sweep=1 with an
// OIDC token of the task invoker, signed by the stand-in. Only failures and
// sweeps that found something are logged.
func sweepEvery(ctx context.Context, every time.Duration, tasks *cloudtasksfake.Server, target, invoker string) {
	log := logging.New(os.Stdout, slog.LevelInfo).With("component", "cloud-scheduler-stand-in")
	t := time.NewTicker(every)
	defer t.Stop()
	client := &http.Client{Timeout: 60 * time.Second}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		status, body, err := sweepOnce(ctx, client, tasks, target, invoker)
		switch {
		case err != nil:
			log.Warn("sweep call failed", "error", err.Error())
		case status != http.StatusOK:
			log.Warn("sweep answered", "status", status, "body", body)
		default:
			var a struct{ Overdue int }
			if json.Unmarshal([]byte(body), &a) != nil || a.Overdue > 0 {
				log.Info("sweep", "answer", body)
			}
		}
	}
}

func sweepOnce(ctx context.Context, client *http.Client, tasks *cloudtasksfake.Server, target, invoker string) (int, string, error) {
	tok, err := tasks.IDToken(target, invoker)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target+"?sweep=1", nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}
