package tasks

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"threadsfunctions.dev/shared/jws"
)

// Environment variables read by LoadConfig. Their names are public interface.
const (
	EnvQueue          = "TASKS_QUEUE"
	EnvTargetURL      = "TASKS_TARGET_URL"
	EnvServiceAccount = "TASKS_SERVICE_ACCOUNT"
	EnvEmulatorHost   = "TASKS_EMULATOR_HOST"
)

// GoogleJWKSURL is where Google publishes the keys that sign the OIDC ID
// tokens Cloud Tasks attaches to deliveries.
const GoogleJWKSURL = jws.GoogleOIDCKeysURL

// EmulatorJWKSPath is the path at which the local stand-in
// (fakes/cloudtasksfake) serves the keys of the tokens it signs.
const EmulatorJWKSPath = "/.well-known/jwks.json"

// Config says which queue tasks go to and how deliveries authenticate.
//
// It comes from TASKS_QUEUE (projects/P/locations/L/queues/Q),
// TASKS_TARGET_URL (the URL tasks POST to: thPublish's URL),
// TASKS_SERVICE_ACCOUNT (email whose OIDC token Cloud Tasks attaches) and
// TASKS_EMULATOR_HOST (host:port of the local stand-in; empty in production).
type Config struct {
	Queue          string
	TargetURL      string
	ServiceAccount string
	EmulatorHost   string
}

// LoadConfig reads the configuration through lookup (os.LookupEnv, or a
// config.Lookuper; tests pass a map). Values are trimmed; nothing is
// validated: call Validate.
func LoadConfig(lookup func(name string) (string, bool)) Config {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	return Config{
		Queue:          get(EnvQueue),
		TargetURL:      get(EnvTargetURL),
		ServiceAccount: get(EnvServiceAccount),
		EmulatorHost:   get(EnvEmulatorHost),
	}
}

var (
	// queueNameRE follows the Cloud Tasks rules: project IDs (optionally
	// domain-scoped), location IDs, and queue IDs of letters, digits and
	// hyphens, at most 100 characters.
	queueNameRE = regexp.MustCompile(`^projects/(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]/locations/[a-z][a-z0-9-]*[a-z0-9]/queues/[A-Za-z0-9-]{1,100}$`)
	// emailRE is a deliberately plain shape check: local@domain.tld.
	emailRE = regexp.MustCompile(`^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$`)
)

// Validate reports every problem with c at once (errors.Join): the queue
// name's shape, TargetURL (absolute https, or http too when EmulatorHost is
// set), the service account's email shape and EmulatorHost's host:port shape.
func (c Config) Validate() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	switch {
	case c.Queue == "":
		fail("%s is required", EnvQueue)
	case !queueNameRE.MatchString(c.Queue):
		fail("%s %q is not a queue name, want projects/P/locations/L/queues/Q", EnvQueue, c.Queue)
	}

	if c.EmulatorHost != "" {
		host, port, err := net.SplitHostPort(c.EmulatorHost)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			fail("%s %q is not host:port", EnvEmulatorHost, c.EmulatorHost)
		}
	}

	if c.TargetURL == "" {
		fail("%s is required", EnvTargetURL)
	} else if err := c.checkTargetURL(); err != nil {
		errs = append(errs, err)
	}

	switch {
	case c.ServiceAccount == "":
		fail("%s is required", EnvServiceAccount)
	case !emailRE.MatchString(c.ServiceAccount):
		fail("%s %q is not an email address", EnvServiceAccount, c.ServiceAccount)
	}
	return errors.Join(errs...)
}

func (c Config) checkTargetURL() error {
	u, err := url.Parse(c.TargetURL)
	if err != nil {
		return fmt.Errorf("%s is not a URL: %w", EnvTargetURL, err)
	}
	bad := func(why string) error { return fmt.Errorf("%s %q %s", EnvTargetURL, c.TargetURL, why) }
	switch {
	case !u.IsAbs() || u.Host == "" || u.Hostname() == "":
		return bad("is not an absolute URL")
	case u.Scheme == "http" && c.EmulatorHost == "":
		return bad("must use https (http is allowed only with " + EnvEmulatorHost + " set)")
	case u.Scheme != "https" && u.Scheme != "http":
		return bad("must use https")
	case u.User != nil:
		return bad("must not carry user info")
	case u.Fragment != "":
		return bad("must not have a fragment")
	}
	return nil
}

// JWKSURL returns where the keys that sign delivery tokens are published:
// GoogleJWKSURL in production, or the stand-in's
// "http://<EmulatorHost>/.well-known/jwks.json" when EmulatorHost is set.
func (c Config) JWKSURL() string {
	if c.EmulatorHost != "" {
		return "http://" + c.EmulatorHost + EmulatorJWKSPath
	}
	return GoogleJWKSURL
}
