package stats

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
)

// Handler serves snapshots taken by snap: GET /status as a JSON object,
// GET /metrics in the Prometheus text format (version 0.0.4), with every
// metric named cgiref_... and labelled server="name". Anything else is 404.
// It is meant for a listener of its own, never the app's.
func Handler(name string, snap func() Snapshot) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			Server string `json:"server"`
			Snapshot
		}{name, snap()})
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		WritePrometheus(w, name, snap())
	})
	return mux
}

// WritePrometheus writes s in the Prometheus text exposition format.
func WritePrometheus(w io.Writer, name string, s Snapshot) {
	label := fmt.Sprintf("server=%q", name)
	metric := func(metric, kind, help string, v int64) {
		fmt.Fprintf(w, "# HELP cgiref_%s %s\n# TYPE cgiref_%s %s\ncgiref_%s{%s} %d\n", metric, help, metric, kind, metric, label, v)
	}
	labelled := func(metric, key, help string, m map[string]int64) {
		fmt.Fprintf(w, "# HELP cgiref_%s %s\n# TYPE cgiref_%s counter\n", metric, help, metric)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "cgiref_%s{%s,%s=%q} %d\n", metric, label, key, k, m[k])
		}
	}
	metric("connections_open", "gauge", "Connections from the web server open now.", s.ConnectionsOpen)
	metric("connections_accepted_total", "counter", "Connections accepted.", s.ConnectionsAccepted)
	metric("requests_in_flight", "gauge", "Requests whose handler runs now.", s.RequestsInFlight)
	metric("requests_total", "counter", "Requests whose handler started.", s.Requests)
	labelled("requests_by_outcome_total", "outcome", "Requests ended, by outcome.", s.Outcomes)
	labelled("refusals_total", "reason", "Requests and connections refused, by reason.", s.Refusals)
	metric("bytes_in_total", "counter", "Bytes read from the web server.", s.BytesIn)
	metric("bytes_out_total", "counter", "Bytes written to the web server.", s.BytesOut)
	metric("bodies_spooled_total", "counter", "Request bodies that went to a temporary file.", s.BodiesSpooled)
	metric("spool_bytes_total", "counter", "Bytes written to temporary files of request bodies.", s.SpoolBytes)
	metric("slow_requests_total", "counter", "Requests logged as slow.", s.SlowRequests)
	metric("pings_total", "counter", "Pings answered by the server itself.", s.Pings)
}
