package tasks_test

import (
	"strings"
	"testing"

	"threadsfunctions.dev/shared/tasks"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"TASKS_QUEUE":           " projects/demo-threads/locations/europe-west1/queues/publish ",
		"TASKS_TARGET_URL":      "https://europe-west1-demo-threads.cloudfunctions.net/thPublish",
		"TASKS_SERVICE_ACCOUNT": "tasks-invoker@demo-threads.iam.gserviceaccount.com",
	}
	got := tasks.LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	want := tasks.Config{
		Queue:          "projects/demo-threads/locations/europe-west1/queues/publish",
		TargetURL:      "https://europe-west1-demo-threads.cloudfunctions.net/thPublish",
		ServiceAccount: "tasks-invoker@demo-threads.iam.gserviceaccount.com",
	}
	if got != want {
		t.Fatalf("LoadConfig = %+v, want %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := tasks.Config{
		Queue:          "projects/demo-threads/locations/europe-west1/queues/publish",
		TargetURL:      "https://europe-west1-demo-threads.cloudfunctions.net/thPublish",
		ServiceAccount: "tasks-invoker@demo-threads.iam.gserviceaccount.com",
	}
	tests := []struct {
		name string
		edit func(c *tasks.Config)
		want []string // substrings of the error; nil: valid
	}{
		{"valid", func(*tasks.Config) {}, nil},
		{"domain-scoped project", func(c *tasks.Config) { c.Queue = "projects/example.com:my-proj/locations/us-central1/queues/q" }, nil},
		{"emulator allows http", func(c *tasks.Config) {
			c.EmulatorHost = "127.0.0.1:8123"
			c.TargetURL = "http://127.0.0.1:8080/thPublish"
		}, nil},
		{"all empty", func(c *tasks.Config) { *c = tasks.Config{} }, []string{"TASKS_QUEUE is required", "TASKS_TARGET_URL is required", "TASKS_SERVICE_ACCOUNT is required"}},
		{"queue without queues segment", func(c *tasks.Config) { c.Queue = "projects/demo-threads/locations/europe-west1" }, []string{"TASKS_QUEUE"}},
		{"queue with task", func(c *tasks.Config) { c.Queue += "/tasks/x" }, []string{"TASKS_QUEUE"}},
		{"queue id with underscore", func(c *tasks.Config) { c.Queue = "projects/demo-threads/locations/europe-west1/queues/pub_lish" }, []string{"TASKS_QUEUE"}},
		{"http without emulator", func(c *tasks.Config) { c.TargetURL = "http://example.com/thPublish" }, []string{"must use https"}},
		{"relative URL", func(c *tasks.Config) { c.TargetURL = "/thPublish" }, []string{"not an absolute URL"}},
		{"ftp URL", func(c *tasks.Config) { c.TargetURL = "ftp://example.com/x" }, []string{"must use https"}},
		{"user info", func(c *tasks.Config) { c.TargetURL = "https://u:p@example.com/x" }, []string{"user info"}},
		{"not an email", func(c *tasks.Config) { c.ServiceAccount = "tasks-invoker" }, []string{"TASKS_SERVICE_ACCOUNT"}},
		{"bad emulator host", func(c *tasks.Config) { c.EmulatorHost = "localhost" }, []string{"TASKS_EMULATOR_HOST"}},
		{"every problem at once", func(c *tasks.Config) {
			c.Queue = "q"
			c.TargetURL = "http://example.com"
			c.ServiceAccount = "x"
		}, []string{"TASKS_QUEUE", "TASKS_TARGET_URL", "TASKS_SERVICE_ACCOUNT"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := good
			tc.edit(&c)
			err := c.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want errors mentioning %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestJWKSURL(t *testing.T) {
	t.Parallel()
	if got := (tasks.Config{}).JWKSURL(); got != tasks.GoogleJWKSURL {
		t.Errorf("production JWKSURL = %q, want %q", got, tasks.GoogleJWKSURL)
	}
	if got, want := (tasks.Config{EmulatorHost: "127.0.0.1:8123"}).JWKSURL(), "http://127.0.0.1:8123/.well-known/jwks.json"; got != want {
		t.Errorf("emulator JWKSURL = %q, want %q", got, want)
	}
}
