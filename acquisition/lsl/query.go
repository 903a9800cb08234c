package lsl

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Query is a compiled stream predicate in the XPath 1.0 subset LSL users write: element paths
// relative to <info> (name, type, desc/manufacturer, desc/channels/channel/label), string and
// number literals, = != < <= > >=, and, or, not(), parentheses and the functions starts-with,
// contains, string-length, count, true and false. A path compared with a value matches when any
// element on that path does, as in XPath.
type Query struct {
	src  string
	expr qexpr
}

// ParseQuery compiles a predicate; "" matches every stream.
func ParseQuery(src string) (*Query, error) {
	q := &Query{src: strings.TrimSpace(src)}
	if q.src == "" {
		return q, nil
	}
	p := &qparser{src: q.src}
	if err := p.lex(); err != nil {
		return nil, fmt.Errorf("query %q: %w", src, err)
	}
	e, err := p.orDepth(0)
	if err == nil && p.pos < len(p.toks) {
		err = fmt.Errorf("unexpected %q", p.toks[p.pos].text)
	}
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", src, err)
	}
	q.expr = e
	return q, nil
}

// String returns the predicate as written.
func (q *Query) String() string { return q.src }

// Matches reports whether the description (its <info> element tree) satisfies the predicate.
func (q *Query) Matches(info *Node) bool {
	if q == nil || q.expr == nil {
		return true
	}
	return q.expr.eval(info).boolean()
}

// MatchesInfo is Matches on a StreamInfo's full description.
func (q *Query) MatchesInfo(s *StreamInfo) bool {
	if q == nil || q.expr == nil {
		return true
	}
	return q.Matches(s.node(true))
}

type qkind int

const (
	kNodes qkind = iota
	kString
	kNumber
	kBool
)

type qvalue struct {
	kind  qkind
	nodes []*Node
	str   string
	num   float64
	b     bool
}

func (v qvalue) boolean() bool {
	switch v.kind {
	case kNodes:
		return len(v.nodes) > 0
	case kString:
		return v.str != ""
	case kNumber:
		return v.num != 0 && !math.IsNaN(v.num)
	}
	return v.b
}

func (v qvalue) string() string {
	switch v.kind {
	case kNodes:
		if len(v.nodes) == 0 {
			return ""
		}
		return nodeString(v.nodes[0])
	case kString:
		return v.str
	case kNumber:
		return strconv.FormatFloat(v.num, 'g', -1, 64)
	}
	if v.b {
		return "true"
	}
	return "false"
}

func toNumber(s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

func (v qvalue) number() float64 {
	switch v.kind {
	case kNumber:
		return v.num
	case kBool:
		if v.b {
			return 1
		}
		return 0
	}
	return toNumber(v.string())
}

// nodeString is XPath's string-value: the concatenated text of the element and its descendants.
func nodeString(n *Node) string {
	if len(n.Children) == 0 {
		return n.Text
	}
	var b strings.Builder
	var walk func(*Node)
	walk = func(n *Node) {
		b.WriteString(n.Text)
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

type qexpr interface{ eval(ctx *Node) qvalue }

type (
	qor      struct{ a, b qexpr }
	qand     struct{ a, b qexpr }
	qlit     struct{ v qvalue }
	qpath    struct{ steps []string }
	qcompare struct {
		op   string
		a, b qexpr
	}
	qcall struct {
		name string
		args []qexpr
	}
)

func (e qor) eval(c *Node) qvalue {
	return qvalue{kind: kBool, b: e.a.eval(c).boolean() || e.b.eval(c).boolean()}
}
func (e qand) eval(c *Node) qvalue {
	return qvalue{kind: kBool, b: e.a.eval(c).boolean() && e.b.eval(c).boolean()}
}
func (e qlit) eval(*Node) qvalue { return e.v }

func (e qpath) eval(c *Node) qvalue {
	cur := []*Node{c}
	for _, s := range e.steps {
		var next []*Node
		for _, n := range cur {
			if s == "." {
				next = append(next, n)
				continue
			}
			for _, ch := range n.Children {
				if s == "*" || ch.Name == s {
					next = append(next, ch)
				}
			}
		}
		cur = next
	}
	return qvalue{kind: kNodes, nodes: cur}
}

func (e qcompare) eval(c *Node) qvalue {
	a, b := e.a.eval(c), e.b.eval(c)
	// A node set compares true when any of its elements does.
	if a.kind == kNodes {
		for _, n := range a.nodes {
			if compareValues(e.op, qvalue{kind: kString, str: nodeString(n)}, b) {
				return qvalue{kind: kBool, b: true}
			}
		}
		return qvalue{kind: kBool}
	}
	if b.kind == kNodes {
		for _, n := range b.nodes {
			if compareValues(e.op, a, qvalue{kind: kString, str: nodeString(n)}) {
				return qvalue{kind: kBool, b: true}
			}
		}
		return qvalue{kind: kBool}
	}
	return qvalue{kind: kBool, b: compareValues(e.op, a, b)}
}

func compareValues(op string, a, b qvalue) bool {
	if op == "=" || op == "!=" {
		var eq bool
		switch {
		case a.kind == kBool || b.kind == kBool:
			eq = a.boolean() == b.boolean()
		case a.kind == kNumber || b.kind == kNumber:
			eq = a.number() == b.number()
		default:
			eq = a.string() == b.string()
		}
		return eq == (op == "=")
	}
	x, y := a.number(), b.number()
	switch op {
	case "<":
		return x < y
	case "<=":
		return x <= y
	case ">":
		return x > y
	}
	return x >= y
}

func (e qcall) eval(c *Node) qvalue {
	str := func(i int) string { return e.args[i].eval(c).string() }
	switch e.name {
	case "starts-with":
		return qvalue{kind: kBool, b: strings.HasPrefix(str(0), str(1))}
	case "contains":
		return qvalue{kind: kBool, b: strings.Contains(str(0), str(1))}
	case "not":
		return qvalue{kind: kBool, b: !e.args[0].eval(c).boolean()}
	case "true":
		return qvalue{kind: kBool, b: true}
	case "false":
		return qvalue{kind: kBool}
	case "string-length":
		return qvalue{kind: kNumber, num: float64(len([]rune(str(0))))}
	case "count":
		return qvalue{kind: kNumber, num: float64(len(e.args[0].eval(c).nodes))}
	case "string":
		return qvalue{kind: kString, str: str(0)}
	case "number":
		return qvalue{kind: kNumber, num: e.args[0].eval(c).number()}
	}
	return qvalue{kind: kBool}
}

// functions lists the supported functions and their argument counts.
var functions = map[string]int{"starts-with": 2, "contains": 2, "not": 1, "true": 0, "false": 0,
	"string-length": 1, "count": 1, "string": 1, "number": 1}

type qtok struct {
	kind byte // 'n' name, 's' string, 'd' number, 'o' operator/punctuation
	text string
}

type qparser struct {
	src  string
	toks []qtok
	pos  int
}

// maxQueryLen bounds what a shortinfo packet can ask an outlet to evaluate.
const maxQueryLen = 4096

func (p *qparser) lex() error {
	s := p.src
	if len(s) > maxQueryLen {
		return fmt.Errorf("longer than %d bytes", maxQueryLen)
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return errors.New("unterminated string literal")
			}
			p.toks = append(p.toks, qtok{'s', s[i+1 : i+1+j]})
			i += j + 2
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			p.toks = append(p.toks, qtok{'d', s[i:j]})
			i = j
		case c == '!' || c == '<' || c == '>':
			if i+1 < len(s) && s[i+1] == '=' {
				p.toks = append(p.toks, qtok{'o', s[i : i+2]})
				i += 2
			} else if c == '!' {
				return errors.New("'!' must be followed by '='")
			} else {
				p.toks = append(p.toks, qtok{'o', s[i : i+1]})
				i++
			}
		case strings.IndexByte("=()/,*.", c) >= 0:
			p.toks = append(p.toks, qtok{'o', s[i : i+1]})
			i++
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '-' || s[j] == '.' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			p.toks = append(p.toks, qtok{'n', s[i:j]})
			i = j
		default:
			return fmt.Errorf("unexpected character %q at %d", c, i)
		}
	}
	return nil
}

func (p *qparser) peek() qtok {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return qtok{}
}

func (p *qparser) accept(kind byte, text string) bool {
	t := p.peek()
	if t.kind == kind && t.text == text {
		p.pos++
		return true
	}
	return false
}

// maxQueryDepth guards the recursive descent against deeply nested hostile queries.
const maxQueryDepth = 64

func (p *qparser) primary(depth int) (qexpr, error) {
	if depth > maxQueryDepth {
		return nil, errors.New("nested too deeply")
	}
	t := p.peek()
	switch t.kind {
	case 0:
		return nil, errors.New("unexpected end")
	case 's':
		p.pos++
		return qlit{qvalue{kind: kString, str: t.text}}, nil
	case 'd':
		p.pos++
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q", t.text)
		}
		return qlit{qvalue{kind: kNumber, num: f}}, nil
	case 'o':
		if t.text == "(" {
			p.pos++
			e, err := p.nested(depth)
			if err != nil {
				return nil, err
			}
			if !p.accept('o', ")") {
				return nil, errors.New("missing ')'")
			}
			return e, nil
		}
		if t.text != "*" && t.text != "." {
			return nil, fmt.Errorf("unexpected %q", t.text)
		}
	}
	// A function call or an element path.
	if t.kind == 'n' && p.pos+1 < len(p.toks) && p.toks[p.pos+1].text == "(" {
		n, ok := functions[t.text]
		if !ok {
			return nil, fmt.Errorf("unsupported function %s()", t.text)
		}
		p.pos += 2
		var args []qexpr
		for !p.accept('o', ")") {
			if len(args) > 0 && !p.accept('o', ",") {
				return nil, fmt.Errorf("%s(): expected ',' or ')'", t.text)
			}
			a, err := p.nested(depth)
			if err != nil {
				return nil, err
			}
			args = append(args, a)
		}
		if len(args) != n {
			return nil, fmt.Errorf("%s() takes %d arguments, got %d", t.text, n, len(args))
		}
		return qcall{name: t.text, args: args}, nil
	}
	var steps []string
	for {
		t := p.peek()
		if t.kind != 'n' && !(t.kind == 'o' && (t.text == "*" || t.text == ".")) {
			return nil, fmt.Errorf("expected an element name, got %q", t.text)
		}
		p.pos++
		steps = append(steps, t.text)
		if !p.accept('o', "/") {
			break
		}
	}
	return qpath{steps: steps}, nil
}

// nested parses a full expression inside parentheses or an argument list.
func (p *qparser) nested(depth int) (qexpr, error) {
	sub := &qparser{src: p.src, toks: p.toks, pos: p.pos}
	e, err := sub.orDepth(depth + 1)
	p.pos = sub.pos
	return e, err
}

func (p *qparser) orDepth(depth int) (qexpr, error) {
	if depth > maxQueryDepth {
		return nil, errors.New("nested too deeply")
	}
	a, err := p.andDepth(depth)
	for err == nil && p.accept('n', "or") {
		var b qexpr
		if b, err = p.andDepth(depth); err == nil {
			a = qor{a, b}
		}
	}
	return a, err
}

func (p *qparser) andDepth(depth int) (qexpr, error) {
	a, err := p.compareDepth(depth)
	for err == nil && p.accept('n', "and") {
		var b qexpr
		if b, err = p.compareDepth(depth); err == nil {
			a = qand{a, b}
		}
	}
	return a, err
}

func (p *qparser) compareDepth(depth int) (qexpr, error) {
	a, err := p.primary(depth)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == 'o' && (t.text == "=" || t.text == "!=" || t.text[0] == '<' || t.text[0] == '>') {
		p.pos++
		b, err := p.primary(depth)
		if err != nil {
			return nil, err
		}
		return qcompare{op: t.text, a: a, b: b}, nil
	}
	return a, nil
}
