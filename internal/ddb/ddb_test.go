package ddb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

var errInvalid = errors.New("test: invalid option")

func TestValidTableName(t *testing.T) {
	for _, tc := range []struct {
		name, table string
		ok          bool
	}{
		{"shortest", "abc", true},
		{"every allowed character", "aZ09_-.", true},
		{"longest", strings.Repeat("a", 255), true},
		{"empty", "", false},
		{"too short", "ab", false},
		{"too long", strings.Repeat("a", 256), false},
		{"space", "my table", false},
		{"slash", "a/b/c", false},
		{"non-ASCII letter", "tablé", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidTableName(tc.table, errInvalid)
			if tc.ok != (err == nil) {
				t.Fatalf("ValidTableName(%q) = %v; want ok %v", tc.table, err, tc.ok)
			}
			if err != nil && !errors.Is(err, errInvalid) {
				t.Fatalf("ValidTableName(%q) = %v; want it to wrap the caller's sentinel", tc.table, err)
			}
		})
	}
}

func TestIsThrottle(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("ThrottlingException"), false},
		{"provisioned throughput", &types.ProvisionedThroughputExceededException{}, true},
		{"request limit", &types.RequestLimitExceeded{}, true},
		{"control plane", &smithy.GenericAPIError{Code: "ThrottlingException"}, true},
		{"wrapped", fmt.Errorf("op: %w", &types.RequestLimitExceeded{}), true},
		{"other API error", &types.ConditionalCheckFailedException{}, false},
		{"context", context.DeadlineExceeded, false},
	} {
		if got := IsThrottle(tc.err); got != tc.want {
			t.Errorf("%s: IsThrottle(%v) = %v; want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestGetN(t *testing.T) {
	item := map[string]types.AttributeValue{
		"n":     Num(-42),
		"big":   &types.AttributeValueMemberN{Value: "9223372036854775808"},
		"frac":  &types.AttributeValueMemberN{Value: "1.5"},
		"str":   &types.AttributeValueMemberS{Value: "1"},
		"empty": &types.AttributeValueMemberN{Value: ""},
	}
	for _, tc := range []struct {
		name string
		want int64
		ok   bool
	}{
		{"n", -42, true},
		{"missing", 0, true},
		{"big", 0, false},
		{"frac", 0, false},
		{"str", 0, false},
		{"empty", 0, false},
	} {
		got, err := GetN(item, tc.name)
		if got != tc.want || tc.ok != (err == nil) {
			t.Errorf("GetN(%q) = %d, %v; want %d, ok %v", tc.name, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tc.name) {
			t.Errorf("GetN(%q) error %q does not name the attribute", tc.name, err)
		}
	}
}

// tables is a TableClient whose answers a test scripts: CreateTable returns
// createErr, and DescribeTable returns describe's entries in turn (the last
// one for ever).
type tables struct {
	createErr error
	describe  []describeResult
	described int
}

type describeResult struct {
	desc *types.TableDescription
	err  error
}

func (c *tables) CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	return &dynamodb.CreateTableOutput{}, c.createErr
}

func (c *tables) DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	r := c.describe[min(c.described, len(c.describe)-1)]
	c.described++
	if r.err != nil {
		return nil, r.err
	}
	return &dynamodb.DescribeTableOutput{Table: r.desc}, nil
}

func TestCreateTable(t *testing.T) {
	creating := &types.TableDescription{TableStatus: types.TableStatusCreating}
	active := &types.TableDescription{TableStatus: types.TableStatusActive}
	wrongSchema := errors.New("wrong schema")
	down := errors.New("connection refused")
	for _, tc := range []struct {
		name      string
		client    *tables
		check     error
		timeout   time.Duration
		want      error  // nil: success
		wantText  string // a part of the message
		described int    // DescribeTable calls; -1: any
		checks    int
	}{
		{name: "new table becomes active", client: &tables{describe: []describeResult{{desc: creating}, {desc: active}}}, described: 2, checks: 2},
		{name: "existing table", client: &tables{createErr: &types.ResourceInUseException{}, describe: []describeResult{{desc: active}}}, described: 1, checks: 1},
		{name: "create fails", client: &tables{createErr: down}, want: down, wantText: "pkg: create table \"tbl\""},
		{name: "describe fails", client: &tables{describe: []describeResult{{err: down}}}, want: down, wantText: "pkg: describe table \"tbl\"", described: 1},
		{name: "no description", client: &tables{describe: []describeResult{{}}}, wantText: "pkg: describe table \"tbl\": no description", described: 1},
		{name: "schema refused", client: &tables{describe: []describeResult{{desc: active}}}, check: wrongSchema, want: wrongSchema, described: 1, checks: 1},
		{name: "never active", client: &tables{describe: []describeResult{{desc: creating}}}, timeout: 3 * TablePoll / 2,
			want: context.DeadlineExceeded, wantText: "pkg: table \"tbl\" is CREATING", described: -1, checks: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			checked := 0
			err := CreateTable(ctx, tc.client, &dynamodb.CreateTableInput{TableName: aws.String("tbl")}, "pkg",
				func(d *types.TableDescription) error {
					if d == nil {
						t.Fatal("check called with no description")
					}
					checked++
					return tc.check
				})
			switch {
			case tc.want == nil && tc.wantText == "" && err != nil:
				t.Fatalf("CreateTable = %v; want success", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("CreateTable = %v; want %v", err, tc.want)
			case tc.wantText != "" && (err == nil || !strings.Contains(err.Error(), tc.wantText)):
				t.Fatalf("CreateTable = %v; want a message containing %q", err, tc.wantText)
			}
			if tc.described >= 0 && tc.client.described != tc.described {
				t.Errorf("%d DescribeTable calls; want %d", tc.client.described, tc.described)
			}
			if tc.checks >= 0 && checked != tc.checks {
				t.Errorf("check called %d times; want %d", checked, tc.checks)
			}
		})
	}
}
