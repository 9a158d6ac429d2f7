// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IGroth16Verifier} from "./IGroth16Verifier.sol";
import {IERC20} from "./IERC20.sol";

/// @title Settlement contract of the derivatives rollup.
/// @notice Holds the finalized state root, the priority queue of L1 requests, the pull-based
/// withdrawal balances, and the exodus (escape hatch) logic. The byte layouts below are also in
/// docs/public-input.md; all integers are big-endian at the stated fixed width.
///
/// Priority queue. Every deposit and forced-withdrawal request appends a 74-byte entry
///     kind u8 | asset u8 | accountId u32 | l1Address 20 | amount u128 | l2Key bytes32
/// (kind 1 = deposit: accountId = the account this contract assigned to l2Key, l1Address =
/// depositor, l2Key = the receiving account's compressed Baby Jubjub key; kind 2 = forced
/// withdrawal: accountId, l1Address = requester = the account's owner, l2Key 0) to a SHA-256
/// hash chain
///     H_0 = 0x00..00,   H_{i+1} = sha256(H_i || entry_i),
/// SHA-256 because the batch circuit must recompute the chain and already has that gadget (the
/// same hash as the public input; keccak would cost several times more constraints).
/// queueHash[i] keeps H_i for every i so any prefix can be checked in O(1).
///
/// Batch public input (the single Groth16 public input):
///     sha256(chainId u256 | rollup address 20 | batchNumber u64 | oldRoot bytes32 |
///            newRoot bytes32 | queueHashBefore bytes32 | queueHashAfter bytes32 | publicData)
///     as a uint256, & (2^253 - 1)
/// where queueHashBefore = H_consumed and queueHashAfter = H_queueCountAfter are read from
/// storage, never from calldata: a batch can only consume a prefix of the pending queue.
///
/// Public data = the L1-operations section, then opaque state-diff bytes kept for data
/// availability (hashed into the public input, otherwise not read here):
///     count u32, then count records of  accountId u32 | asset u8 | to address 20 | amount u128
/// Each record credits `amount` of `asset` to `to`'s pull balance (41 bytes per record).
///
/// Prices: the batch circuit writes the last proven oracle prices into the state tree, so they
/// are committed by the state root itself and the exit circuit reads them from there.
///
/// Exit public input (exodus mode, exit circuit):
///     sha256(root bytes32 | accountId u32 | owner address 20 | ethAmount u128 | tokenAmount u128)
///     as a uint256, & (2^253 - 1), root = the last finalized state root.
///
/// Accounts. The first deposit to a new key assigns it the next account id and makes the
/// depositor that account's L1 owner: only the owner may queue a forced withdrawal of it, so the
/// circuit pays a forced withdrawal to its requester without any other check of authority.
/// Amounts are below 2^64 (the rollup's amount width), so every entry can be consumed.
///
/// Assets: 0 = ETH (wei), 1 = the collateral token fixed at deployment (its base units).
/// No function moves funds except to the address a proof or a queue entry names: the operator
/// can only submit proven batches.
contract Rollup {
    uint256 internal constant INPUT_MASK = (1 << 253) - 1;
    uint8 public constant KIND_DEPOSIT = 1;
    uint8 public constant KIND_FORCED_WITHDRAWAL = 2;
    uint8 public constant ASSET_ETH = 0;
    uint8 public constant ASSET_TOKEN = 1;
    uint256 internal constant RECORD_BYTES = 41;

    IGroth16Verifier public immutable batchVerifier;
    IGroth16Verifier public immutable exitVerifier;
    IERC20 public immutable token;
    address public immutable operator;
    /// Seconds a priority request may wait before anyone can activate exodus.
    uint64 public immutable priorityDeadline;

    bytes32 public stateRoot;
    // One slot: the counters every batch and deposit touch.
    uint64 public batchNumber; // number of the last finalized batch, 0 = genesis
    uint64 public queueLength; // entries ever queued
    uint64 public queueConsumed; // entries consumed by finalized batches
    bool public exodus;

    /// queueHash[i] = H_i, the chain hash after the first i entries (queueHash[0] = 0).
    mapping(uint256 => bytes32) public queueHash;
    /// queueDeadline[i] = time after which entry i, if still unconsumed, allows exodus.
    mapping(uint256 => uint64) public queueDeadline;
    /// Pull-based balances: owner => asset => amount.
    mapping(address => mapping(uint8 => uint256)) public pendingWithdrawal;
    mapping(uint32 => bool) public exited;
    mapping(uint256 => bool) public depositRefunded;
    /// accountOf[l2Key] = the account id assigned to a compressed key (0 = none yet).
    mapping(bytes32 => uint32) public accountOf;
    /// ownerOf[accountId] = the L1 address whose deposit opened the account.
    mapping(uint32 => address) public ownerOf;
    /// The id the next new key gets; ids below the first one belong to the genesis state.
    uint32 public nextAccountId;
    /// Ids must stay below this (2^depth of the accounts tree the circuits prove).
    uint32 public immutable accountLimit;

    bool private transient locked;

    event PriorityRequest(
        uint64 indexed index,
        uint8 indexed kind,
        address indexed l1Address,
        uint8 asset,
        uint32 accountId,
        uint128 amount,
        bytes32 l2Key,
        bytes32 queueHash,
        uint64 deadline
    );
    event BatchFinalized(
        uint64 indexed batchNumber,
        bytes32 oldRoot,
        bytes32 newRoot,
        uint64 queueConsumed,
        bytes32 queueHash,
        uint256 publicInput
    );
    event WithdrawalCredited(
        uint64 indexed batchNumber,
        uint32 indexed accountId,
        address indexed to,
        uint8 asset,
        uint128 amount
    );
    event Withdrawn(address indexed to, uint8 indexed asset, uint256 amount);
    event ExodusActivated(uint64 lastBatch, bytes32 stateRoot, uint64 overdueIndex);
    event Exited(uint32 indexed accountId, address indexed owner, uint128 ethAmount, uint128 tokenAmount);
    event DepositRefunded(uint64 indexed index, address indexed to, uint8 asset, uint128 amount);

    error NotOperator();
    error ExodusActive();
    error NotInExodus();
    error WrongBatchNumber(uint64 expected, uint64 got);
    error WrongOldRoot(bytes32 expected, bytes32 got);
    error QueueCountOutOfRange(uint64 consumed, uint64 length, uint64 got);
    error InvalidProof();
    error PublicDataMalformed();
    error UnknownAsset(uint8 asset);
    error ZeroAmount();
    error AmountTooLarge();
    error NothingToWithdraw();
    error TransferFailed();
    error Reentrancy();
    error NothingOverdue();
    error NotOverdue(uint64 deadline);
    error AlreadyExited(uint32 accountId);
    error NotARefundableDeposit();
    error NotAccountOwner(uint32 accountId);
    error AccountLimitReached();

    modifier nonReentrant() {
        if (locked) revert Reentrancy();
        locked = true;
        _;
        locked = false;
    }

    constructor(
        IGroth16Verifier batchVerifier_,
        IGroth16Verifier exitVerifier_,
        IERC20 token_,
        address operator_,
        bytes32 genesisRoot,
        uint64 priorityDeadline_,
        uint32 firstAccountId,
        uint32 accountLimit_
    ) {
        batchVerifier = batchVerifier_;
        exitVerifier = exitVerifier_;
        token = token_;
        operator = operator_;
        priorityDeadline = priorityDeadline_;
        stateRoot = genesisRoot;
        nextAccountId = firstAccountId;
        accountLimit = accountLimit_;
    }

    // --- L1 requests ----------------------------------------------------------------------

    /// @notice Deposit msg.value wei to the account with compressed key `l2Key`.
    function depositEth(bytes32 l2Key) external payable {
        if (msg.value == 0) revert ZeroAmount();
        if (msg.value >> 64 != 0) revert AmountTooLarge();
        _enqueue(KIND_DEPOSIT, ASSET_ETH, _accountFor(l2Key), msg.sender, uint128(msg.value), l2Key);
    }

    /// @notice Deposit `amount` collateral tokens (approved beforehand). The amount queued is
    /// what the contract actually received, so fee-on-transfer tokens cannot over-credit.
    function depositToken(bytes32 l2Key, uint128 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 before = token.balanceOf(address(this));
        _callToken(abi.encodeCall(IERC20.transferFrom, (msg.sender, address(this), amount)));
        uint256 received = token.balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
        if (received >> 64 != 0) revert AmountTooLarge();
        _enqueue(KIND_DEPOSIT, ASSET_TOKEN, _accountFor(l2Key), msg.sender, uint128(received), l2Key);
    }

    /// The account of `l2Key`; a new key gets the next id, owned by msg.sender.
    function _accountFor(bytes32 l2Key) private returns (uint32 id) {
        id = accountOf[l2Key];
        if (id == 0) {
            id = nextAccountId;
            if (id >= accountLimit) revert AccountLimitReached();
            nextAccountId = id + 1;
            accountOf[l2Key] = id;
            ownerOf[id] = msg.sender;
        }
    }

    /// @notice Ask that `amount` of `asset` leave L2 account `accountId`, owned by msg.sender.
    /// The next batches must consume it before its deadline, or exodus opens; the circuit pays
    /// it to msg.sender if the account stays healthy after paying it, and pays 0 otherwise.
    function requestForcedWithdrawal(uint32 accountId, uint8 asset, uint128 amount) external {
        if (asset > ASSET_TOKEN) revert UnknownAsset(asset);
        if (ownerOf[accountId] != msg.sender || msg.sender == address(0)) {
            revert NotAccountOwner(accountId);
        }
        _enqueue(KIND_FORCED_WITHDRAWAL, asset, accountId, msg.sender, amount, bytes32(0));
    }

    function _enqueue(
        uint8 kind,
        uint8 asset,
        uint32 accountId,
        address l1Address,
        uint128 amount,
        bytes32 l2Key
    ) private {
        if (exodus) revert ExodusActive();
        uint64 i = queueLength;
        bytes32 h = sha256(
            abi.encodePacked(queueHash[i], kind, asset, accountId, l1Address, amount, l2Key)
        );
        uint64 deadline = uint64(block.timestamp) + priorityDeadline;
        queueHash[i + 1] = h;
        queueDeadline[i] = deadline;
        queueLength = i + 1;
        emit PriorityRequest(i, kind, l1Address, asset, accountId, amount, l2Key, h, deadline);
    }

    // --- batches ----------------------------------------------------------------------------

    /// @notice The public input a batch proof must have (see the contract comment).
    function batchPublicInput(
        uint64 newBatchNumber,
        bytes32 oldRoot,
        bytes32 newRoot,
        bytes32 queueHashBefore,
        bytes32 queueHashAfter,
        bytes calldata publicData
    ) public view returns (uint256) {
        return uint256(
            sha256(
                abi.encodePacked(
                    block.chainid,
                    address(this),
                    newBatchNumber,
                    oldRoot,
                    newRoot,
                    queueHashBefore,
                    queueHashAfter,
                    publicData
                )
            )
        ) & INPUT_MASK;
    }

    /// @notice Finalize batch `newBatchNumber` (= batchNumber + 1), moving the root from
    /// `oldRoot` to `newRoot` and consuming the queue up to entry `queueCountAfter` (exclusive).
    function submitBatch(
        uint64 newBatchNumber,
        bytes32 oldRoot,
        bytes32 newRoot,
        uint64 queueCountAfter,
        bytes calldata publicData,
        uint256[8] calldata proof
    ) external {
        if (msg.sender != operator) revert NotOperator();
        if (exodus) revert ExodusActive();
        uint64 last = batchNumber;
        if (newBatchNumber != last + 1) revert WrongBatchNumber(last + 1, newBatchNumber);
        if (oldRoot != stateRoot) revert WrongOldRoot(stateRoot, oldRoot);
        uint64 consumed = queueConsumed;
        if (queueCountAfter < consumed || queueCountAfter > queueLength) {
            revert QueueCountOutOfRange(consumed, queueLength, queueCountAfter);
        }
        bytes32 qAfter = queueHash[queueCountAfter];
        uint256 input = batchPublicInput(
            newBatchNumber, oldRoot, newRoot, queueHash[consumed], qAfter, publicData
        );
        if (!batchVerifier.verifyProof(proof, input)) revert InvalidProof();

        stateRoot = newRoot;
        batchNumber = newBatchNumber;
        queueConsumed = queueCountAfter;
        emit BatchFinalized(newBatchNumber, oldRoot, newRoot, queueCountAfter, qAfter, input);
        _creditWithdrawals(newBatchNumber, publicData);
    }

    function _creditWithdrawals(uint64 n, bytes calldata data) private {
        if (data.length < 4) revert PublicDataMalformed();
        uint256 count = uint32(bytes4(data[0:4]));
        if (data.length < 4 + count * RECORD_BYTES) revert PublicDataMalformed();
        for (uint256 off = 4; off < 4 + count * RECORD_BYTES; off += RECORD_BYTES) {
            uint32 accountId = uint32(bytes4(data[off:off + 4]));
            uint8 asset = uint8(data[off + 4]);
            address to = address(bytes20(data[off + 5:off + 25]));
            uint128 amount = uint128(bytes16(data[off + 25:off + 41]));
            if (asset > ASSET_TOKEN) revert UnknownAsset(asset);
            pendingWithdrawal[to][asset] += amount;
            emit WithdrawalCredited(n, accountId, to, asset, amount);
        }
    }

    // --- payouts ----------------------------------------------------------------------------

    /// @notice Send msg.sender its whole pending balance of `asset`. Checks-effects-interactions
    /// (the balance is zeroed before the transfer) plus a transient-storage lock (EIP-1153).
    function withdraw(uint8 asset) external nonReentrant {
        if (asset > ASSET_TOKEN) revert UnknownAsset(asset);
        uint256 amount = pendingWithdrawal[msg.sender][asset];
        if (amount == 0) revert NothingToWithdraw();
        pendingWithdrawal[msg.sender][asset] = 0;
        emit Withdrawn(msg.sender, asset, amount);
        if (asset == ASSET_ETH) {
            (bool ok,) = msg.sender.call{value: amount}("");
            if (!ok) revert TransferFailed();
        } else {
            _callToken(abi.encodeCall(IERC20.transfer, (msg.sender, amount)));
        }
    }

    /// ERC-20 call accepting both tokens that return true and tokens that return nothing.
    function _callToken(bytes memory data) private {
        (bool ok, bytes memory ret) = address(token).call(data);
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool))) || address(token).code.length == 0)
        {
            revert TransferFailed();
        }
    }

    // --- escape hatch -----------------------------------------------------------------------

    /// @notice Anyone may stop the rollup once the oldest unconsumed priority request is past
    /// its deadline. From then on no batch is accepted and accounts leave through `exit`.
    function activateExodus() external {
        if (exodus) revert ExodusActive();
        uint64 c = queueConsumed;
        if (c == queueLength) revert NothingOverdue();
        uint64 d = queueDeadline[c];
        if (block.timestamp <= d) revert NotOverdue(d);
        exodus = true;
        emit ExodusActivated(batchNumber, stateRoot, c);
    }

    /// @notice The public input an exit proof must have (see the contract comment).
    function exitPublicInput(uint32 accountId, address owner, uint128 ethAmount, uint128 tokenAmount)
        public
        view
        returns (uint256)
    {
        return uint256(sha256(abi.encodePacked(stateRoot, accountId, owner, ethAmount, tokenAmount)))
            & INPUT_MASK;
    }

    /// @notice Exodus only: credit `owner` with the balances of `accountId` in the last finalized
    /// state, proven by the exit circuit. Once per account; anyone may submit it (the proof binds
    /// the owner, and the funds go only to the owner's pull balance).
    function exit(
        uint32 accountId,
        address owner,
        uint128 ethAmount,
        uint128 tokenAmount,
        uint256[8] calldata proof
    ) external {
        if (!exodus) revert NotInExodus();
        if (exited[accountId]) revert AlreadyExited(accountId);
        uint256 input = exitPublicInput(accountId, owner, ethAmount, tokenAmount);
        if (!exitVerifier.verifyProof(proof, input)) revert InvalidProof();
        exited[accountId] = true;
        if (ethAmount != 0) pendingWithdrawal[owner][ASSET_ETH] += ethAmount;
        if (tokenAmount != 0) pendingWithdrawal[owner][ASSET_TOKEN] += tokenAmount;
        emit Exited(accountId, owner, ethAmount, tokenAmount);
    }

    /// @notice Exodus only: a deposit that no batch consumed is not in the final root, so its
    /// depositor gets it back. The caller restates the entry (from the PriorityRequest event);
    /// it is checked against the hash chain.
    function refundDeposit(uint64 index, uint8 asset, address depositor, uint128 amount, bytes32 l2Key)
        external
    {
        if (!exodus) revert NotInExodus();
        if (index < queueConsumed || index >= queueLength || depositRefunded[index]) {
            revert NotARefundableDeposit();
        }
        bytes32 h = sha256(
            abi.encodePacked(
                queueHash[index], KIND_DEPOSIT, asset, accountOf[l2Key], depositor, amount, l2Key
            )
        );
        if (h != queueHash[index + 1]) revert NotARefundableDeposit();
        depositRefunded[index] = true;
        pendingWithdrawal[depositor][asset] += amount;
        emit DepositRefunded(index, depositor, asset, amount);
    }
}
