#pragma once
// FileSink: writes each transaction as one line of hex, standard or Extended
// Format, to a file or to stdout. Output is buffered (1 MiB); flush() pushes
// it to the file and fsyncs it (a regular file). "Accepted" means handed to
// the buffer: a job counts as written to the file only once flush() (at the
// end of the run) has succeeded; a failed flush is reported by the run.

#include <cstdio>
#include <memory>
#include <string>

#include "stages/send/tx_sink.h"

namespace raregen::send {

enum class TxEncoding : std::uint8_t { raw_hex, ef_hex };

// truncate_buffered: a fresh file, written through a 1 MiB buffer (a batch
// run that checks flush() at the end). append_write_through: appends, and
// every line reaches the kernel (one write) before try_send reports it
// accepted, so a SIGKILL cannot lose a transaction the run recorded as sent
// (what a run with a database, which may be killed and resumed, needs).
enum class FileSinkMode : std::uint8_t { truncate_buffered, append_write_through };

class FileSink final : public TxSink {
  public:
    // path "-" is stdout. Throws std::runtime_error (start-up) if the file
    // cannot be opened, naming the path and the reason.
    FileSink(const std::string& path, TxEncoding encoding,
             FileSinkMode mode = FileSinkMode::truncate_buffered);
    ~FileSink() override;
    FileSink(const FileSink&) = delete;
    FileSink& operator=(const FileSink&) = delete;

    SinkStatus try_send(const model::Job& job) noexcept override;
    bool flush() noexcept override;
    std::string_view last_error() const noexcept override { return m_error; }
    std::uint64_t written() const noexcept { return m_written; }

  private:
    std::FILE* m_file = nullptr;
    bool m_owned = false;
    TxEncoding m_encoding;
    bool m_write_through = false;
    std::string m_line;                // reused: one hex line
    std::unique_ptr<char[]> m_buffer;  // stdio buffer (setvbuf ignores a size without one)
    std::string m_error;
    std::uint64_t m_written = 0;
};

}  // namespace raregen::send
