#include "stages/send/file_sink.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "engine/chain/bytes.h"

namespace raregen::send {

FileSink::FileSink(const std::string& path, TxEncoding encoding, FileSinkMode mode)
    : m_encoding(encoding), m_write_through(mode == FileSinkMode::append_write_through) {
    if (path == "-") {
        m_file = stdout;
    } else {
        m_file = std::fopen(path.c_str(), m_write_through ? "ab" : "wb");
        if (m_file == nullptr)
            throw std::runtime_error("cannot open output file '" + path +
                                     "': " + std::strerror(errno));
        m_owned = true;
        constexpr std::size_t k_buffer = 1 << 20;
        m_buffer = std::make_unique<char[]>(k_buffer);
        std::setvbuf(m_file, m_buffer.get(), _IOFBF, k_buffer);
    }
    m_line.reserve(2 * model::k_max_tx_bytes + 1);
}

FileSink::~FileSink() {
    if (m_owned)
        std::fclose(m_file);
    else
        std::fflush(m_file);
}

SinkStatus FileSink::try_send(const model::Job& job) noexcept {
    const model::TxBytes& tx = m_encoding == TxEncoding::ef_hex ? job.ef : job.raw;
    m_line.clear();
    chain::append_hex(tx.span(), m_line);
    m_line.push_back('\n');
    if (std::fwrite(m_line.data(), 1, m_line.size(), m_file) != m_line.size()) {
        m_error = std::string("write failed: ") + std::strerror(errno);
        return SinkStatus::failed;
    }
    // Write-through: the line is in the kernel before the job counts as
    // sent, so a killed process never reports a transaction it did not hand over.
    if (m_write_through && std::fflush(m_file) != 0) {
        m_error = std::string("write failed: ") + std::strerror(errno);
        return SinkStatus::failed;
    }
    ++m_written;
    return SinkStatus::accepted;
}

bool FileSink::flush() noexcept {
    if (std::fflush(m_file) != 0) {
        m_error = std::string("flush failed: ") + std::strerror(errno);
        return false;
    }
    if (m_owned && ::fsync(fileno(m_file)) != 0 && errno != EINVAL) {
        m_error = std::string("fsync failed: ") + std::strerror(errno);
        return false;
    }
    return true;
}

}  // namespace raregen::send
