/* updraft_faultproxy: a fault-injecting TCP proxy for the network-fault tests.
 *
 * Sits between `updraft device run` and a real HTTPS server. TLS passes
 * through untouched; the proxy counts the bytes it forwards server->client
 * on each connection and applies that connection's schedule:
 *
 *   pass            forward everything
 *   drop@N          after N bytes to the client, close both sides
 *   reset@N         after N bytes, reset the client (RST: SO_LINGER 0)
 *   stall@N         after N bytes, forward nothing more but keep both sockets open
 *   close-early@N   after N bytes, send FIN to the client (orderly shutdown) and close the server side
 *   throttle=BPS    forward at most BPS bytes per second
 *   delay=MS        wait MS before the first byte to the client
 *
 * Schedule syntax (--schedule TEXT or --schedule-file FILE, one item per ';'
 * or line): "CONN:ACTION[,ACTION...]" where CONN is the 1-based connection
 * number or '*' for every other connection, e.g.
 *   "1:pass; 2:drop@40000; 3:throttle=20000,reset@9000; *:pass".
 * --seed S generates a random mix for connections 1..--random-conns (default
 * 4) with offsets below --size-hint (default 100000); later connections pass.
 *
 * Log (--log FILE, default stderr): one line per connection when it starts
 * ("conn 2 start: drop@40000") and when it ends ("conn 2 end: dropped after
 * 40000 bytes to client (12 from client)"). Lines are written with one
 * write() on an O_APPEND file, so the forked children do not interleave.
 *
 * Each connection is served by a forked child (poll loop); the parent kills
 * its children on SIGTERM/SIGINT. A child never lives longer than
 * --max-seconds (default 120), so a stall cannot outlive a broken test. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RULES    64
#define MAX_CHILDREN 256

typedef struct action {
  int64_t drop_at, reset_at, stall_at, close_at; /* -1 = none */
  int64_t throttle_bps;                          /* 0 = unlimited */
  int64_t delay_ms;
  char text[128];
} action_t;

typedef struct rule {
  int conn; /* 0 = '*' */
  action_t act;
} rule_t;

static rule_t rules[MAX_RULES];
static int nrules;
static int log_fd = 2;
static pid_t children[MAX_CHILDREN];
static int nchildren;
static volatile sig_atomic_t stop_flag;

static void logf_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_line(const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) {
    return;
  }
  if ((size_t)n > sizeof line - 2) {
    n = (int)sizeof line - 2;
  }
  line[n++] = '\n';
  ssize_t w = write(log_fd, line, (size_t)n);
  (void)w;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "updraft_faultproxy: error: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static void usage(FILE *out) {
  fprintf(out, "Usage: updraft_faultproxy --target HOST:PORT [--listen PORT] [--port-file F] [--log F]\n"
               "                          [--schedule TEXT | --schedule-file F | --seed S] [options]\n\n"
               "A TCP proxy for tests that drops, resets, stalls, throttles, delays or closes\n"
               "connections at given byte counts (server -> client), per connection number.\n\n"
               "Options:\n"
               "  --target HOST:PORT   the real server (IPv4 address or host name)\n"
               "  --listen PORT        listen on 127.0.0.1:PORT (default 0: any free port)\n"
               "  --port-file F        write the listening port to F once ready\n"
               "  --log F              append one line per connection start/end (default stderr)\n"
               "  --schedule TEXT      'CONN:ACTION[,ACTION]; ...' with CONN a number or '*'; actions:\n"
               "                       pass drop@N reset@N stall@N close-early@N throttle=BPS delay=MS\n"
               "  --schedule-file F    the same, one item per line ('#' comments)\n"
               "  --seed S             random faults for the first --random-conns connections\n"
               "  --random-conns K     how many connections get random faults (default 4)\n"
               "  --size-hint N        random byte offsets below N (default 100000)\n"
               "  --max-seconds S      end any connection after S seconds (default 120)\n"
               "  --help               this text\n");
}

static void action_init(action_t *a) {
  memset(a, 0, sizeof *a);
  a->drop_at = a->reset_at = a->stall_at = a->close_at = -1;
}

static int64_t parse_num(const char *s, const char *what) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || end == s || *end != 0 || v < 0) {
    die("bad number '%s' in %s", s, what);
  }
  return (int64_t)v;
}

/* "drop@100,throttle=2000" -> a */
static void parse_actions(const char *text, action_t *a) {
  action_init(a);
  snprintf(a->text, sizeof a->text, "%s", text);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", text);
  char *save = NULL;
  for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
    while (*tok == ' ' || *tok == '\t') {
      tok++;
    }
    char *e = tok + strlen(tok);
    while (e > tok && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) {
      *--e = 0;
    }
    if (strcmp(tok, "pass") == 0 || tok[0] == 0) {
      continue;
    }
    if (strncmp(tok, "drop@", 5) == 0) {
      a->drop_at = parse_num(tok + 5, tok);
    } else if (strncmp(tok, "reset@", 6) == 0) {
      a->reset_at = parse_num(tok + 6, tok);
    } else if (strncmp(tok, "stall@", 6) == 0) {
      a->stall_at = parse_num(tok + 6, tok);
    } else if (strncmp(tok, "close-early@", 12) == 0) {
      a->close_at = parse_num(tok + 12, tok);
    } else if (strncmp(tok, "throttle=", 9) == 0) {
      a->throttle_bps = parse_num(tok + 9, tok);
      if (a->throttle_bps == 0) {
        die("throttle=0 is a stall; use stall@N");
      }
    } else if (strncmp(tok, "delay=", 6) == 0) {
      a->delay_ms = parse_num(tok + 6, tok);
    } else {
      die("unknown action '%s' (expected pass, drop@N, reset@N, stall@N, close-early@N, throttle=BPS, delay=MS)", tok);
    }
  }
}

static void parse_schedule(const char *text) {
  char *copy = strdup(text);
  char *save = NULL;
  for (char *item = strtok_r(copy, ";\n", &save); item != NULL; item = strtok_r(NULL, ";\n", &save)) {
    while (*item == ' ' || *item == '\t') {
      item++;
    }
    if (item[0] == 0 || item[0] == '#') {
      continue;
    }
    char *colon = strchr(item, ':');
    if (colon == NULL) {
      die("schedule item '%s' has no 'CONN:' prefix", item);
    }
    *colon = 0;
    if (nrules == MAX_RULES) {
      die("more than %d schedule items", MAX_RULES);
    }
    rule_t *r = &rules[nrules++];
    char *c = item;
    while (*c == ' ') {
      c++;
    }
    char *ce = c + strlen(c);
    while (ce > c && ce[-1] == ' ') {
      *--ce = 0;
    }
    r->conn = strcmp(c, "*") == 0 ? 0 : (int)parse_num(c, "connection number");
    if (strcmp(c, "*") != 0 && r->conn == 0) {
      die("connection numbers start at 1");
    }
    parse_actions(colon + 1, &r->act);
  }
  free(copy);
}

static uint32_t rng_next(uint64_t *s) {
  /* splitmix64: reproducible from the seed alone */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return (uint32_t)((z ^ (z >> 31)) >> 32);
}

/* A random mix: mostly single faults, some combinations, some passes. */
static void random_schedule(uint64_t seed, int conns, uint32_t size_hint) {
  uint64_t s = seed;
  for (int c = 1; c <= conns && nrules < MAX_RULES; c++) {
    char text[128];
    uint32_t at = 1 + rng_next(&s) % (size_hint ? size_hint : 1);
    uint32_t pick = rng_next(&s) % 8;
    switch (pick) {
    case 0:
      snprintf(text, sizeof text, "pass");
      break;
    case 1:
      snprintf(text, sizeof text, "drop@%u", at);
      break;
    case 2:
      snprintf(text, sizeof text, "reset@%u", at);
      break;
    case 3:
      snprintf(text, sizeof text, "stall@%u", at);
      break;
    case 4:
      snprintf(text, sizeof text, "close-early@%u", at);
      break;
    case 5:
      snprintf(text, sizeof text, "delay=%u,drop@%u", rng_next(&s) % 500, at);
      break;
    case 6:
      snprintf(text, sizeof text, "throttle=%u,reset@%u", 50000 + rng_next(&s) % 200000, at);
      break;
    default:
      snprintf(text, sizeof text, "delay=%u", rng_next(&s) % 800);
      break;
    }
    rules[nrules].conn = c;
    parse_actions(text, &rules[nrules].act);
    nrules++;
  }
}

static const action_t *action_for(int conn) {
  static action_t pass;
  for (int i = 0; i < nrules; i++) {
    if (rules[i].conn == conn) {
      return &rules[i].act;
    }
  }
  for (int i = 0; i < nrules; i++) {
    if (rules[i].conn == 0) {
      return &rules[i].act;
    }
  }
  action_init(&pass);
  snprintf(pass.text, sizeof pass.text, "pass");
  return &pass;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_target(const char *host, const char *port) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, port, &hints, &res) != 0) {
    return -1;
  }
  int fd = -1;
  for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      break;
    }
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

static void hard_reset(int fd) {
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

/* Write all of buf (blocking socket). */
static bool write_all(int fd, const uint8_t *buf, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    buf += w;
    n -= (size_t)w;
  }
  return true;
}

/* The first fault point at or after the bytes sent so far. */
static int64_t next_limit(const action_t *a) {
  int64_t lim = INT64_MAX;
  const int64_t pts[] = {a->drop_at, a->reset_at, a->stall_at, a->close_at};
  for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
    if (pts[i] >= 0 && pts[i] < lim) {
      lim = pts[i];
    }
  }
  return lim;
}

/* Serve one connection: client fd c, server fd s. Never returns. */
static void serve(int conn, int c, int s, const action_t *a, int max_seconds) {
  uint64_t to_client = 0, from_client = 0;
  int64_t start = mono_ms();
  int64_t deadline = start + (int64_t)max_seconds * 1000;
  int64_t limit = next_limit(a);
  bool stalled = false;
  const char *how = "closed by the client";
  uint8_t buf[16384];
  bool server_open = true;

  for (;;) {
    int64_t now = mono_ms();
    if (now >= deadline) {
      how = "ended at --max-seconds";
      break;
    }
    if (!stalled && to_client >= (uint64_t)limit) {
      if (limit == a->drop_at) {
        logf_line("conn %d end: dropped after %llu bytes to client (%llu from client)", conn,
                  (unsigned long long)to_client, (unsigned long long)from_client);
        close(s);
        close(c);
        _exit(0);
      }
      if (limit == a->reset_at) {
        logf_line("conn %d end: reset after %llu bytes to client (%llu from client)", conn,
                  (unsigned long long)to_client, (unsigned long long)from_client);
        hard_reset(c);
        close(s);
        _exit(0);
      }
      if (limit == a->close_at) {
        logf_line("conn %d end: closed early (FIN) after %llu bytes to client (%llu from client)", conn,
                  (unsigned long long)to_client, (unsigned long long)from_client);
        close(s);
        shutdown(c, SHUT_WR);
        /* Let the client see the FIN and close its side. */
        while (mono_ms() < deadline && recv(c, buf, sizeof buf, 0) > 0) {
        }
        close(c);
        _exit(0);
      }
      stalled = true; /* stall_at */
      logf_line("conn %d stall: stopped forwarding after %llu bytes to client", conn, (unsigned long long)to_client);
    }
    bool delaying = to_client == 0 && now < start + a->delay_ms;
    /* Throttle: how many bytes may go now. */
    size_t allow = sizeof buf;
    int wait_ms = 200;
    if (a->throttle_bps > 0) {
      int64_t elapsed = now - start - a->delay_ms;
      int64_t budget = (elapsed > 0 ? elapsed : 0) * a->throttle_bps / 1000 + 1 - (int64_t)to_client;
      if (budget <= 0) {
        allow = 0;
        wait_ms = 20;
      } else if ((uint64_t)budget < allow) {
        allow = (size_t)budget;
      }
    }
    if (limit != INT64_MAX && !stalled && (uint64_t)limit - to_client < allow) {
      allow = (size_t)((uint64_t)limit - to_client);
    }
    if (delaying) {
      allow = 0;
      wait_ms = 20;
    }
    struct pollfd p[2];
    int np = 0;
    p[np].fd = c;
    p[np].events = POLLIN;
    np++;
    int si = -1;
    if (server_open && !stalled && allow > 0) {
      si = np;
      p[np].fd = s;
      p[np].events = POLLIN;
      np++;
    }
    int r = poll(p, (nfds_t)np, wait_ms);
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      how = "poll failed";
      break;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) {
        how = n == 0 ? "closed by the client" : "client connection error";
        break;
      }
      from_client += (uint64_t)n;
      if (server_open && !write_all(s, buf, (size_t)n)) {
        server_open = false;
      }
    }
    if (si >= 0 && (p[si].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = recv(s, buf, allow, 0);
      if (n <= 0) {
        /* The server finished (or failed): pass the close on. */
        how = "closed by the server";
        break;
      }
      if (!write_all(c, buf, (size_t)n)) {
        how = "client connection error";
        break;
      }
      to_client += (uint64_t)n;
    }
  }
  logf_line("conn %d end: %s after %llu bytes to client (%llu from client)%s", conn, how, (unsigned long long)to_client,
            (unsigned long long)from_client, stalled ? " [stalled]" : "");
  close(s);
  close(c);
  _exit(0);
}

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static void reap(void) {
  pid_t p;
  while ((p = waitpid(-1, NULL, WNOHANG)) > 0) {
    for (int i = 0; i < nchildren; i++) {
      if (children[i] == p) {
        children[i] = children[--nchildren];
        break;
      }
    }
  }
}

static char *read_text_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    die("cannot read %s: %s", path, strerror(errno));
  }
  size_t cap = 4096, len = 0;
  char *t = malloc(cap);
  size_t n;
  while ((n = fread(t + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len < 2) {
      cap *= 2;
      t = realloc(t, cap);
    }
  }
  fclose(f);
  t[len] = 0;
  return t;
}

int main(int argc, char **argv) {
  const char *target = NULL, *port_file = NULL, *log_path = NULL, *schedule = NULL, *schedule_file = NULL;
  int listen_port = 0, random_conns = 4, max_seconds = 120;
  bool have_seed = false;
  uint64_t seed = 0;
  uint32_t size_hint = 100000;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
      usage(stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      usage(stderr);
      fprintf(stderr, "updraft_faultproxy: error: %s needs a value (or is unknown)\n", o);
      return 2;
    }
    const char *v = argv[++i];
    if (strcmp(o, "--target") == 0) {
      target = v;
    } else if (strcmp(o, "--listen") == 0) {
      listen_port = (int)parse_num(v, o);
    } else if (strcmp(o, "--port-file") == 0) {
      port_file = v;
    } else if (strcmp(o, "--log") == 0) {
      log_path = v;
    } else if (strcmp(o, "--schedule") == 0) {
      schedule = v;
    } else if (strcmp(o, "--schedule-file") == 0) {
      schedule_file = v;
    } else if (strcmp(o, "--seed") == 0) {
      seed = (uint64_t)parse_num(v, o);
      have_seed = true;
    } else if (strcmp(o, "--random-conns") == 0) {
      random_conns = (int)parse_num(v, o);
    } else if (strcmp(o, "--size-hint") == 0) {
      size_hint = (uint32_t)parse_num(v, o);
    } else if (strcmp(o, "--max-seconds") == 0) {
      max_seconds = (int)parse_num(v, o);
    } else {
      usage(stderr);
      fprintf(stderr, "updraft_faultproxy: error: unknown option %s\n", o);
      return 2;
    }
  }
  if (target == NULL) {
    usage(stderr);
    fprintf(stderr, "updraft_faultproxy: error: --target HOST:PORT is required\n");
    return 2;
  }
  char host[256], tport[16];
  const char *colon = strrchr(target, ':');
  if (colon == NULL || (size_t)(colon - target) >= sizeof host || strlen(colon + 1) >= sizeof tport) {
    die("--target must be HOST:PORT, got '%s'", target);
  }
  memcpy(host, target, (size_t)(colon - target));
  host[colon - target] = 0;
  snprintf(tport, sizeof tport, "%s", colon + 1);
  if (schedule != NULL) {
    parse_schedule(schedule);
  }
  if (schedule_file != NULL) {
    char *t = read_text_file(schedule_file);
    parse_schedule(t);
    free(t);
  }
  if (have_seed) {
    random_schedule(seed, random_conns, size_hint);
  }
  if (log_path != NULL) {
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log_fd < 0) {
      die("cannot open log %s: %s", log_path, strerror(errno));
    }
  }

  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons((uint16_t)listen_port);
  if (bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 16) != 0) {
    die("cannot listen on 127.0.0.1:%d: %s", listen_port, strerror(errno));
  }
  socklen_t sl = sizeof sa;
  getsockname(ls, (struct sockaddr *)&sa, &sl);
  int port = ntohs(sa.sin_port);
  for (int i = 0; i < nrules; i++) {
    if (rules[i].conn == 0) {
      logf_line("schedule: *: %s", rules[i].act.text);
    } else {
      logf_line("schedule: %d: %s", rules[i].conn, rules[i].act.text);
    }
  }
  logf_line("listening on 127.0.0.1:%d -> %s", port, target);
  if (port_file != NULL) {
    /* Written via a temporary name so a reader never sees a partial file. */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, port_file) != 0) {
      die("cannot write %s", port_file);
    }
  }

  struct sigaction act;
  memset(&act, 0, sizeof act);
  act.sa_handler = on_signal;
  sigaction(SIGTERM, &act, NULL);
  sigaction(SIGINT, &act, NULL);
  signal(SIGPIPE, SIG_IGN);

  int conn = 0;
  while (!stop_flag) {
    reap();
    struct pollfd p = {.fd = ls, .events = POLLIN};
    int r = poll(&p, 1, 200);
    if (r <= 0) {
      continue;
    }
    int c = accept(ls, NULL, NULL);
    if (c < 0) {
      continue;
    }
    conn++;
    const action_t *a = action_for(conn);
    logf_line("conn %d start: %s", conn, a->text);
    pid_t pid = fork();
    if (pid == 0) {
      signal(SIGTERM, SIG_DFL); /* the parent's handler only stops the accept loop */
      signal(SIGINT, SIG_DFL);
      close(ls);
      int s = connect_target(host, tport);
      if (s < 0) {
        logf_line("conn %d end: cannot connect to %s", conn, target);
        close(c);
        _exit(0);
      }
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      serve(conn, c, s, a, max_seconds);
    }
    close(c);
    if (pid > 0 && nchildren < MAX_CHILDREN) {
      children[nchildren++] = pid;
    }
  }
  for (int i = 0; i < nchildren; i++) {
    kill(children[i], SIGTERM);
  }
  while (waitpid(-1, NULL, 0) > 0) {
  }
  return 0;
}
