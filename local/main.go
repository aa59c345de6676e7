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
// never set.
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
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
		stop, err := startTasksStandIn(addr)
		if err != nil {
			return err
		}
		defer stop()
	}
	fmt.Fprintf(os.Stderr, "serving functions on http://%s:%s/\n", hostname, port)
	return funcframework.StartHostPort(hostname, port)
}

// startTasksStandIn serves the Cloud Tasks stand-in on addr, which must be
// a loopback address: it signs tokens thPublish accepts.
func startTasksStandIn(addr string) (func(), error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("TASKS_EMULATOR_HOST=%s: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, errors.New("TASKS_EMULATOR_HOST must be a loopback address (127.0.0.1:PORT): the stand-in is for local runs only")
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("Cloud Tasks stand-in: %w", err)
	}
	log := logging.New(os.Stdout, slog.LevelInfo).With("component", "cloud-tasks-stand-in")
	_, stop := cloudtasksfake.StartListener(lis,
		cloudtasksfake.WithDelivery(cloudtasksfake.DeliveryConfig{MaxAttempts: 10, MinBackoff: time.Second, MaxBackoff: time.Minute}),
		cloudtasksfake.WithLogger(log))
	fmt.Fprintf(os.Stderr, "Cloud Tasks stand-in on %s\n", addr)
	return stop, nil
}
