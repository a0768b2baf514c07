package postgresql

import (
	"testing"
	"time"

	"github.com/hoard-db/hoard/internal/datastore"
)

func TestReceiverWatch(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type look struct {
		at        time.Duration // after t0
		streaming bool
		received  string
		want      time.Duration
	}
	tests := []struct {
		name  string
		looks []look
	}{
		{name: "streaming", looks: []look{{0, true, "", 0}, {time.Minute, true, "", 0}}},
		{name: "down from the first look", looks: []look{
			{0, false, "0/3000000", 0}, {10 * time.Second, false, "0/3000000", 10 * time.Second},
			{45 * time.Second, false, "0/3000000", 45 * time.Second}}},
		{name: "streams again", looks: []look{
			{0, false, "0/3000000", 0}, {40 * time.Second, true, "", 0}, {50 * time.Second, false, "0/3000100", 0},
			{60 * time.Second, false, "0/3000100", 10 * time.Second}}},
		{name: "received more in between", looks: []look{
			{0, false, "0/3000000", 0}, {40 * time.Second, false, "0/4000000", 0},
			{45 * time.Second, false, "0/4000000", 5 * time.Second}}},
		{name: "never received", looks: []look{{0, false, "", 0}, {31 * time.Second, false, "", 31 * time.Second}}},
		{name: "forgotten after a long silence", looks: []look{
			{0, false, "0/3000000", 0}, {watchForget + time.Second, false, "0/3000000", 0}}},
	}
	for _, tt := range tests {
		var w receiverWatch
		for i, l := range tt.looks {
			if got := w.look("s", t0.Add(l.at), l.streaming, l.received); got != l.want {
				t.Errorf("%s: look %d = %v, want %v", tt.name, i, got, l.want)
			}
		}
	}
	// Standbys are counted apart.
	var w receiverWatch
	w.look("a", t0, false, "")
	if got := w.look("b", t0.Add(time.Minute), false, ""); got != 0 {
		t.Errorf("look(b) = %v, want 0 (a's clock)", got)
	}
}

func TestNotStreamingStatus(t *testing.T) {
	ci := primaryConninfo(datastore.Spec{RunDir: "/run/x", InstanceID: "i-1",
		ReplicaOf: &datastore.ReplicaSource{Address: "10.0.0.7", Port: 5433, User: "os_replicator"}})
	tests := []struct {
		name     string
		status   string
		conninfo string
		down     time.Duration
		want     datastore.ReplicaStatus
	}{
		{name: "just down", conninfo: ci, down: 0, want: datastore.ReplicaStatus{State: datastore.ReplicaConnecting, LagSeconds: -1}},
		{name: "under the threshold", status: "starting", conninfo: ci, down: 29 * time.Second,
			want: datastore.ReplicaStatus{State: datastore.ReplicaConnecting, LagSeconds: -1}},
		{name: "broken", conninfo: ci, down: 95 * time.Second, want: datastore.ReplicaStatus{State: datastore.ReplicaBroken, LagSeconds: -1,
			Error: "The replica has not streamed from the source 10.0.0.7 port 5433 for 95 seconds (WAL receiver not running); " +
				"the source may have removed WAL the replica needs (then it must be created again) or refuse its login; the server log tells."}},
		{name: "broken, receiver waiting", status: "waiting", conninfo: "host='a b' port=1", down: time.Minute,
			want: datastore.ReplicaStatus{State: datastore.ReplicaBroken, LagSeconds: -1,
				Error: "The replica has not streamed from the source a b port 1 for 60 seconds (WAL receiver waiting); " +
					"the source may have removed WAL the replica needs (then it must be created again) or refuse its login; the server log tells."}},
		{name: "broken, conninfo unreadable", conninfo: "host='unterminated", down: time.Minute,
			want: datastore.ReplicaStatus{State: datastore.ReplicaBroken, LagSeconds: -1,
				Error: "The replica has not streamed from its source for 60 seconds (WAL receiver not running); " +
					"the source may have removed WAL the replica needs (then it must be created again) or refuse its login; the server log tells."}},
	}
	for _, tt := range tests {
		if got := notStreamingStatus(tt.status, tt.conninfo, tt.down, DefaultReplicaBrokenAfter); got != tt.want {
			t.Errorf("%s: notStreamingStatus = %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}
