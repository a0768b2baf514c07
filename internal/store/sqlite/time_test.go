package sqlite

import (
	"testing"
	"time"
)

// FuzzTimeRoundTrip checks that any time is stored and read back at second
// precision, in UTC, and that the zero time stays zero.
func FuzzTimeRoundTrip(f *testing.F) {
	f.Add(int64(0), int64(0), 0)
	f.Add(int64(1735786445), int64(891_000_000), 7200)
	f.Add(int64(-62135596800), int64(0), 0)
	f.Add(int64(-1), int64(999_999_999), -3600)
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int) {
		in := time.Unix(sec, nsec%1_000_000_000).In(time.FixedZone("z", offset%(24*3600)))
		got := fromUnix(unix(in))
		if in.Unix() == 0 {
			// Unix second 0 is the stored form of the zero time.
			return
		}
		if got.Unix() != in.Unix() || got.Nanosecond() != 0 {
			t.Errorf("fromUnix(unix(%v)) = %v", in, got)
		}
		if got.Location() != time.UTC {
			t.Errorf("fromUnix(unix(%v)) = %v, want UTC", in, got)
		}
	})
}

func TestZeroTime(t *testing.T) {
	if got := fromUnix(unix(time.Time{})); !got.IsZero() {
		t.Errorf("fromUnix(unix(zero)) = %v, want the zero time", got)
	}
}
