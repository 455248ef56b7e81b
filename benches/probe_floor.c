/* The kernel's floor under a health probe: what the cheapest possible client pays the
 * kernel for one probe over loopback, measured the way benches/load.sh measures hadns's
 * probes (CPU time of the probing process, per probe).
 *
 * An HTTP probe is a blocking connect, one GET, reading to the end, close; a TCP probe
 * is a blocking connect and close. Probes are paced (one every 1000000/RATE µs), as
 * hadns paces its checks, so each also pays for a sleep and a wake-up.
 *
 * usage: probe_floor http|tcp ADDR PORT PORTS RATE SECONDS
 *   (tcp probes cycle through PORTS ports from PORT; http probes all go to PORT) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double usec(struct timeval t) { return t.tv_sec * 1e6 + t.tv_usec; }

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: probe_floor http|tcp ADDR PORT PORTS RATE SECONDS\n");
    return 2;
  }
  int http = strcmp(argv[1], "http") == 0;
  int port = atoi(argv[3]), ports = atoi(argv[4]), rate = atoi(argv[5]);
  long n = (long)rate * atoi(argv[6]);
  const char *req = "GET /0 HTTP/1.1\r\nHost: 127.0.0.2\r\nUser-Agent: probe_floor\r\n"
                    "Accept: */*\r\nConnection: close\r\n\r\n";
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1) return 2;
  struct timespec gap = {0, 1000000000L / rate};
  char buf[4096];
  long failed = 0;
  struct rusage a, b;
  getrusage(RUSAGE_SELF, &a);
  for (long i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sa.sin_port = htons(port + (http ? 0 : i % ports));
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
      failed++;
    } else if (http) {
      if (write(fd, req, strlen(req)) < 0) failed++;
      while (read(fd, buf, sizeof buf) > 0) {}
    }
    close(fd);
    nanosleep(&gap, NULL);
  }
  getrusage(RUSAGE_SELF, &b);
  double user = usec(b.ru_utime) - usec(a.ru_utime), sys = usec(b.ru_stime) - usec(a.ru_stime);
  printf("%ld %.1f %.1f %ld\n", n, (user + sys) / n, user / n, failed);
  return failed != 0;
}
