package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"testing"
)

func TestCloudLoggingFormat(t *testing.T) {
	cases := []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug, "DEBUG"},
		{slog.LevelInfo, "INFO"},
		{slog.LevelWarn, "WARNING"},
		{slog.LevelError, "ERROR"},
	}
	for _, tc := range cases {
		var buf bytes.Buffer
		New(&buf, slog.LevelDebug).Log(t.Context(), tc.level, "hello", "k", "v")
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("not JSON: %q: %v", buf.String(), err)
		}
		if line["severity"] != tc.want || line["message"] != "hello" || line["k"] != "v" {
			t.Errorf("level %v: got %v", tc.level, line)
		}
		if _, ok := line["level"]; ok {
			t.Errorf("level key kept: %v", line)
		}
	}
}

func TestTraceFromHeaders(t *testing.T) {
	cases := []struct {
		name, header, value string
		wantTrace, wantSpan string
		wantSampled         bool
	}{
		{"cloud trace", "X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1",
			"projects/demo-p/traces/105445aa7843bc8bf206b12000100000", "1", true},
		{"cloud trace without span", "X-Cloud-Trace-Context", "105445AA7843BC8BF206B12000100000",
			"projects/demo-p/traces/105445aa7843bc8bf206b12000100000", "", false},
		{"traceparent", "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			"projects/demo-p/traces/4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", true},
		{"garbage", "X-Cloud-Trace-Context", "not-a-trace", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set(tc.header, tc.value)
			var buf bytes.Buffer
			ctx := RequestContext(r, New(&buf, slog.LevelInfo), "demo-p")
			FromContext(ctx).Info("x")
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatal(err)
			}
			if got, _ := line[TraceKey].(string); got != tc.wantTrace {
				t.Errorf("trace = %q, want %q", got, tc.wantTrace)
			}
			if got, _ := line[SpanKey].(string); got != tc.wantSpan {
				t.Errorf("span = %q, want %q", got, tc.wantSpan)
			}
			if tc.wantTrace != "" && line[TraceSampledKey] != tc.wantSampled {
				t.Errorf("sampled = %v, want %v", line[TraceSampledKey], tc.wantSampled)
			}
		})
	}
}
