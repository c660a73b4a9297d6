// --tag-output: every line a rank writes reaches prism-run's own stdout or stderr with the
// rank in front, as mpirun --tag-output writes it ("[1,3]<stdout>:..."), so interleaved
// output of many ranks stays readable. Each rank's stdout and stderr go through a pipe of
// their own, which prism-run reads while it waits.
#pragma once

#include <string>
#include <vector>

#include "tools/prism-run/process.h"

namespace prism::run {

class OutputTags {
 public:
  OutputTags() = default;
  ~OutputTags();
  OutputTags(const OutputTags&) = delete;
  OutputTags& operator=(const OutputTags&) = delete;

  /// Gives every rank a stdout and a stderr pipe. Before the ranks start.
  void attach(std::vector<SpawnSpec>& ranks);
  /// Closes prism-run's copies of the pipes' write ends, so that a rank's exit ends its
  /// streams. After the ranks started.
  void started();
  /// Writes every complete line that arrived, tagged. Waits at most `millis` for output.
  void pump(int millis);
  /// Reads until every rank's streams end or `millis` pass, then writes what is left.
  void drain(int millis);

 private:
  struct Stream {
    int rank;
    bool err;
    int read = -1;
    int write = -1;
    std::string pending;  // a line not yet ended
  };
  void emit(Stream& s, bool all);
  std::vector<Stream> streams_;
};

}  // namespace prism::run
