// Command local serves every function of the bundle in one process, each at
// /<name> (/thAuthStart, /thAuthCallback, /thPublish), on $PORT (default
// 8081), as the Functions Framework does when FUNCTION_TARGET is unset.
//
// Configuration comes from the environment exactly as in production; point
// FIRESTORE_EMULATOR_HOST and FIREBASE_AUTH_EMULATOR_HOST at the emulators.
package main

import (
	"fmt"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	// Each function registers itself in init().
	_ "threadsfunctions.dev/functions/thauthcallback"
	_ "threadsfunctions.dev/functions/thauthstart"
	_ "threadsfunctions.dev/functions/thpublish"
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
	fmt.Fprintf(os.Stderr, "serving functions on http://%s:%s/\n", hostname, port)
	return funcframework.StartHostPort(hostname, port)
}
