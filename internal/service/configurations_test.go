package service

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/fault"
	"github.com/hoard-db/hoard/internal/model"
)

var testParams = []datastore.Parameter{
	{Name: "max_connections", Type: datastore.ParamInteger, Min: "10", Max: "100000"},
	{Name: "innodb_buffer_pool_size", Type: datastore.ParamInteger, Min: "2097152", Max: "18446744073701163008"},
	{Name: "long_query_time", Type: datastore.ParamFloat, Min: "0", Max: "31536000"},
	{Name: "slow_query_log", Type: datastore.ParamBoolean},
	{Name: "ft_min_word_len", Type: datastore.ParamInteger, Min: "1", Max: "84", RestartRequired: true},
	{Name: "tx_isolation", Type: datastore.ParamString, Allowed: []string{"READ-COMMITTED", "REPEATABLE-READ"}},
	{Name: "sql_mode", Type: datastore.ParamString, Set: true, Allowed: []string{"ANSI_QUOTES", "STRICT_ALL_TABLES"}},
	{Name: "time_zone", Type: datastore.ParamString},
}

func TestValidateValues(t *testing.T) {
	v := &model.DatastoreVersion{DatastoreName: "mysql", Name: "10.11"}
	tests := []struct {
		in   map[string]any
		want map[string]string
		msg  string // an expected 422 message part
	}{
		{in: map[string]any{"MAX_CONNECTIONS": json.Number("77"), "long_query_time": json.Number("2.50"), "slow_query_log": true},
			want: map[string]string{"max_connections": "77", "long_query_time": "2.5", "slow_query_log": "true"}},
		{in: map[string]any{"innodb_buffer_pool_size": json.Number("18446744073701163008")},
			want: map[string]string{"innodb_buffer_pool_size": "18446744073701163008"}},
		{in: map[string]any{"sql_mode": "ansi_quotes,STRICT_ALL_TABLES", "tx_isolation": "read-committed", "time_zone": "+01:00"},
			want: map[string]string{"sql_mode": "ansi_quotes,STRICT_ALL_TABLES", "tx_isolation": "read-committed", "time_zone": "+01:00"}},
		{in: map[string]any{"sql_mode": ""}, want: map[string]string{"sql_mode": ""}},
		{in: map[string]any{"nope": json.Number("1")}, msg: "The configuration parameter nope is not supported for this datastore: mysql 10.11."},
		{in: map[string]any{"max_connections": "77"}, msg: "max_connections is not of type integer"},
		{in: map[string]any{"max_connections": json.Number("7.5")}, msg: "max_connections is not of type integer"},
		{in: map[string]any{"max_connections": json.Number("9")}, msg: "max_connections is less than the minimum allowed: 10"},
		{in: map[string]any{"max_connections": json.Number("100001")}, msg: "max_connections is greater than the maximum allowed: 100000"},
		{in: map[string]any{"innodb_buffer_pool_size": json.Number("18446744073701163009")}, msg: "greater than the maximum"},
		{in: map[string]any{"slow_query_log": "ON"}, msg: "slow_query_log is not of type boolean"},
		{in: map[string]any{"tx_isolation": "CHAOS"}, msg: "not allowed for the configuration parameter tx_isolation"},
		{in: map[string]any{"sql_mode": "ANSI_QUOTES,BOGUS"}, msg: "sql_mode"},
		{in: map[string]any{"time_zone": "x\ndatadir=/"}, msg: "time_zone may only contain"},
		{in: map[string]any{"time_zone": json.Number("1")}, msg: "time_zone is not of type string"},
	}
	for _, tt := range tests {
		got, err := validateValues(testParams, v, tt.in)
		if tt.msg != "" {
			if !fault.Is(err, fault.Unprocessable) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("validateValues(%v) = %v, want 422 with %q", tt.in, err, tt.msg)
			}
			continue
		}
		if err != nil {
			t.Errorf("validateValues(%v): %v", tt.in, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("validateValues(%v) = %v, want %v", tt.in, got, tt.want)
		}
		for k, w := range tt.want {
			if got[k] != w {
				t.Errorf("validateValues(%v)[%s] = %q, want %q", tt.in, k, got[k], w)
			}
		}
	}
}

func TestTypedValuesAndRestart(t *testing.T) {
	tv := typedValues(testParams, map[string]string{"max_connections": "77", "slow_query_log": "false", "time_zone": "+01:00"})
	if tv["max_connections"] != json.Number("77") || tv["slow_query_log"] != false || tv["time_zone"] != "+01:00" {
		t.Errorf("typedValues = %#v", tv)
	}
	for _, tt := range []struct {
		old, new map[string]string
		want     bool
	}{
		{nil, map[string]string{"max_connections": "77"}, false},
		{nil, map[string]string{"ft_min_word_len": "3"}, true},
		{map[string]string{"ft_min_word_len": "3"}, map[string]string{"ft_min_word_len": "3", "max_connections": "5"}, false},
		{map[string]string{"max_connections": "77"}, map[string]string{}, true},
	} {
		if got := needsRestart(testParams, tt.old, tt.new); got != tt.want {
			t.Errorf("needsRestart(%v, %v) = %v, want %v", tt.old, tt.new, got, tt.want)
		}
	}
	if d := dynamicOnly(testParams, map[string]string{"ft_min_word_len": "3", "max_connections": "5"}); len(d) != 1 || d["max_connections"] != "5" {
		t.Errorf("dynamicOnly = %v", d)
	}
}
